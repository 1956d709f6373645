"""The lake: storage (local or S3), its layout, Delta writes, reading raw files, the batch load
(silver and quarantine), gold, the catalog, maintenance, queries and the quality gate.

May import: core and the shared modules.
"""
