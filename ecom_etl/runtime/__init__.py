"""The runtime seam: the local SparkSession (Delta, S3A, the project's jar) or Glue's, set up alike.

May import: the shared modules (settings, errors, progress).
"""
