"""The data contract as code: the schema, the CSV record reader, the wire format, the cleaning,
enrichment and aggregation rules. Pure: DataFrame -> DataFrame functions and plain Python, no I/O.

May import: nothing of ecom_etl outside core.
"""
