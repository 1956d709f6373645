"""The HTTP API: the Lambda handlers (POST order lines, GET a customer's invoices and an invoice),
their body checks and paging, and the local server that serves the same handlers.

May import: core, stream (its DynamoDB reads and the producer) and the shared modules.
Lambda runs it with boto3 only: nothing here imports pyspark.
"""
