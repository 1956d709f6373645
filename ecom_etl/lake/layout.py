"""The lake's layout under one warehouse root (a local directory, file:// or s3:// URI).

Every path the jobs write is named here: the tables, the run summaries, the stream checkpoints
and the log of raw files already loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecom_etl.core.schema import GOLD_TABLES
from ecom_etl.lake.storage import absolute

SILVER_TABLE = "order_lines"
QUARANTINE_TABLE = "quarantine_order_lines"


@dataclass(frozen=True)
class Lake:
    root: str

    @classmethod
    def at(cls, warehouse: str) -> Lake:
        return cls(absolute(warehouse).rstrip("/"))

    @property
    def silver(self) -> str:
        return f"{self.root}/silver/order_lines"

    @property
    def quarantine(self) -> str:
        return f"{self.root}/quarantine/order_lines"

    def gold(self, name: str) -> str:
        return f"{self.root}/gold/{name}"

    @property
    def runs(self) -> str:
        """Batch run summaries, one JSON file per run, named by start time so they sort."""
        return f"{self.root}/_runs"

    @property
    def ingested_files(self) -> str:
        """A Delta table of the raw files loaded so far (path, size, version): what a run skips."""
        return f"{self.root}/_ingested_files"

    def checkpoint(self, stream: str) -> str:
        """The stream job's default checkpoint for `stream`."""
        return f"{self.root}/_checkpoints/{stream}"

    def tables(self) -> dict[str, str]:
        """Catalog table name -> location, for every table of the lake."""
        return {
            SILVER_TABLE: self.silver,
            QUARANTINE_TABLE: self.quarantine,
            **{name: self.gold(name) for name in GOLD_TABLES},
        }
