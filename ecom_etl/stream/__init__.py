"""The stream job: Kinesis (or files) -> micro-batches cleaned by the batch load -> Delta + DynamoDB,
and the producer that puts order lines on the stream.

May import: core, lake and the shared modules.
"""
