"""ecom_etl: the Online Retail order-line pipeline, one code path for AWS Glue and a laptop."""

__version__ = "0.1.0"
