"""Data-quality metrics and the quality gate (docs/data-quality.md): a feed that breaks fails its run
and raises an alarm instead of filling the quarantine unnoticed.

Every batch run and micro-batch publishes its measured counts with one PutMetricData call. Not the
embedded metric format: EMF needs CloudWatch Logs to turn log lines into metrics, which the local
emulator does not do, while PutMetricData reaches its CloudWatch as it reaches AWS's (the job roles
may put metrics in NAMESPACE only). A failed publish is a warning: the data and the run summary
are written already, and the summary holds the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ecom_etl.core.contract import REASONS
from ecom_etl.errors import EtlInputError, first_line
from ecom_etl.lake.layout import SILVER_TABLE
from ecom_etl.lake.load import LoadResult
from ecom_etl.progress import Progress
from ecom_etl.settings import Settings

NAMESPACE = "ecom-etl"
GATE_EXIT = 3  # a run over a threshold (1: counts that do not reconcile, 2: bad input)
# The gate's job arguments (Glue style, without "--"), in the template's DefaultArguments.
GATE_ARGUMENTS = ("max_quarantined_share", "max_reason_shares", "min_lines_per_file")


def _share(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EtlInputError(f"--{name}: not a share of lines: {text!r} (use e.g. 0.01 for 1 %)") from None
    if not 0 <= value <= 1:
        raise EtlInputError(f"--{name}: a share of lines is between 0 and 1, got {text}")
    return value


def _percent(share: float) -> str:
    return f"{share * 100:.3g} %"


@dataclass(frozen=True)
class Gate:
    """The thresholds a run must stay within; None or empty: not checked."""

    max_quarantined_share: float | None = None  # of the lines read, all reasons together
    max_reason_shares: dict[str, float] = field(default_factory=dict)  # reason -> share of the lines read
    min_lines_per_file: int = 0  # lines read per new file that is not empty (batch runs only)

    @classmethod
    def from_arguments(cls, args: Mapping[str, str]) -> Gate:
        """The gate of job arguments by name (GATE_ARGUMENTS; absent or "": not checked)."""
        total = args.get("max_quarantined_share", "").strip()
        reasons = {}
        for item in filter(None, (s.strip() for s in args.get("max_reason_shares", "").split(","))):
            reason, sep, value = item.partition("=")
            if not sep or reason.strip() not in REASONS:
                raise EtlInputError(
                    f"--max_reason_shares: expected reason=share with a reason of the contract, got {item!r} "
                    f"(reasons: {', '.join(REASONS)})"
                )
            reasons[reason.strip()] = _share(value.strip(), "max_reason_shares")
        lines = args.get("min_lines_per_file", "").strip() or "0"
        if not lines.isdigit():
            raise EtlInputError(f"--min_lines_per_file: not a number of lines: {lines!r}")
        return cls(_share(total, "max_quarantined_share") if total else None, reasons, int(lines))

    def to_dict(self) -> dict:
        return asdict(self)

    def breaches(self, result: LoadResult, files: int = 0) -> list[str]:
        """Every threshold the load is over, each saying by how much; `files` are the new files that
        are not empty (0 for a micro-batch)."""
        found = []
        read = result.raw_rows
        quarantined = result.quarantined_rows + result.sink_rejected_rows
        if read and self.max_quarantined_share is not None and quarantined / read > self.max_quarantined_share:
            share = quarantined / read
            found.append(
                f"quarantined {_percent(share)} of the lines read ({quarantined:,} of {read:,}), over "
                f"max_quarantined_share {_percent(self.max_quarantined_share)} by "
                f"{_percent(share - self.max_quarantined_share)}"
            )
        for reason, limit in self.max_reason_shares.items():
            n = result.quarantine_reasons.get(reason, 0)
            if read and n / read > limit:
                found.append(
                    f"{reason}: {_percent(n / read)} of the lines read ({n:,} of {read:,}), over "
                    f"max_reason_shares {_percent(limit)} by {_percent(n / read - limit)}"
                )
        if files and read < self.min_lines_per_file * files:
            found.append(
                f"read {read:,} lines from {files:,} file(s) that are not empty ({read / files:,.1f} per file), "
                f"under min_lines_per_file {self.min_lines_per_file:,} by {self.min_lines_per_file - read / files:,.1f}"
            )
        return found


NO_GATE = Gate()


def gate_message(breaches: list[str]) -> str:
    """The one line a run over the gate ends with."""
    return "quality gate failed: " + "; ".join(breaches)


def metric_data(job: str, result: LoadResult, seconds: float, breaches: list[str], at: datetime) -> list[dict]:
    """The load's measured counts as CloudWatch metric data, by job and table (and reason)."""
    dimensions = [{"Name": "JobName", "Value": job}, {"Name": "Table", "Value": SILVER_TABLE}]
    quarantined = result.quarantined_rows + result.sink_rejected_rows
    values = [
        ("LinesRead", result.raw_rows, "Count"),
        ("LinesKept", result.silver_rows, "Count"),
        ("Duplicates", result.duplicates_dropped, "Count"),
        ("LinesQuarantined", result.quarantined_rows, "Count"),
        ("SinkRejected", result.sink_rejected_rows, "Count"),
        ("Reconciles", 0 if result.mismatches() else 1, "None"),
        ("GateBreached", 1 if breaches else 0, "None"),
        ("RunSeconds", round(seconds, 3), "Seconds"),
    ]
    if result.raw_rows:  # no share of nothing
        values.append(("QuarantinedShare", quarantined / result.raw_rows, "None"))
    data = [
        {"MetricName": name, "Dimensions": dimensions, "Value": float(value), "Unit": unit, "Timestamp": at}
        for name, value, unit in values
    ]
    data += [
        {
            "MetricName": "QuarantinedByReason",
            "Dimensions": [*dimensions, {"Name": "Reason", "Value": reason}],
            "Value": float(n),
            "Unit": "Count",
            "Timestamp": at,
        }
        for reason, n in result.quarantine_reasons.items()
    ]
    return data


def publish(settings: Settings, data: list[dict], progress: Progress) -> bool:
    """Put the metric data in one call (at most 1000 data, far more than a run has); a failure is a
    warning line, never the run's failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        settings.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=data)
    except (BotoCoreError, ClientError) as exc:
        progress(
            f"warning: the run's metrics were not published to CloudWatch ({first_line(str(exc))}); "
            "its data is written and its summary holds the same counts"
        )
        return False
    return True
