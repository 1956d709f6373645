"""The streaming path: API -> Kinesis -> micro-batches cleaned by the batch code -> Delta + DynamoDB."""
