"""Data-quality metrics and the quality gate: a feed that breaks fails its run, and CloudWatch has the counts."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from ecom_etl import cli
from ecom_etl.errors import EtlInputError
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.load import LoadResult
from ecom_etl.lake.quality import GATE_ARGUMENTS, GATE_EXIT, NAMESPACE, Gate, metric_data, publish
from ecom_etl.local import template

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def metrics(settings, job: str) -> dict[str, float]:
    """Every metric of `job` in the emulator's CloudWatch, summed over the last hour: name -> value,
    name/reason for the metrics by reason."""
    cloudwatch = settings.client("cloudwatch")
    pages = cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=NAMESPACE, Dimensions=[{"Name": "JobName", "Value": job}]
    )
    now = datetime.now(UTC)
    found = {}
    for metric in (m for page in pages for m in page["Metrics"]):
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        reason = [d["Value"] for d in metric["Dimensions"] if d["Name"] == "Reason"]
        found["/".join([metric["MetricName"], *reason])] = sum(p["Sum"] for p in points)
    return found


def all_quarantined(read: int, reason: str = "invoice_date_unparseable") -> LoadResult:
    return LoadResult(raw_rows=read, quarantined_rows=read, quarantine_reasons={reason: read})


@pytest.mark.one_stack
def test_a_gate_says_which_threshold_and_by_how_much():
    gate = Gate(0.01, {"invoice_date_unparseable": 0.001}, min_lines_per_file=10)
    assert gate.breaches(all_quarantined(200), files=1) == [
        "quarantined 100 % of the lines read (200 of 200), over max_quarantined_share 1 % by 99 %",
        "invoice_date_unparseable: 100 % of the lines read (200 of 200), over max_reason_shares 0.1 % by 99.9 %",
    ]
    assert gate.breaches(LoadResult(raw_rows=15, silver_rows=15), files=2) == [
        "read 15 lines from 2 file(s) that are not empty (7.5 per file), under min_lines_per_file 10 by 2.5"
    ]
    assert gate.breaches(LoadResult(raw_rows=1000, quarantined_rows=10, quarantine_reasons={"not_utf8": 10})) == []


@pytest.mark.one_stack
def test_a_micro_batchs_sink_rejected_lines_count_against_the_gate():
    result = LoadResult(
        raw_rows=10, silver_rows=10, sink_rejected_rows=2, quarantine_reasons={"dynamodb_item_too_large": 2}
    )
    assert Gate(0.1).breaches(result) == [
        "quarantined 20 % of the lines read (2 of 10), over max_quarantined_share 10 % by 10 %"
    ]


@pytest.mark.one_stack
@pytest.mark.parametrize(
    "arguments, words",
    [
        ({"max_quarantined_share": "5%"}, ["max_quarantined_share", "'5%'"]),
        ({"max_quarantined_share": "2"}, ["between 0 and 1"]),
        ({"max_reason_shares": "bad_date=0.1"}, ["max_reason_shares", "bad_date", "invoice_date_unparseable"]),
        ({"max_reason_shares": "not_utf8"}, ["reason=share"]),
        ({"min_lines_per_file": "-1"}, ["min_lines_per_file", "'-1'"]),
    ],
)
def test_gate_arguments_that_make_no_sense_are_one_line_errors(arguments, words):
    with pytest.raises(EtlInputError) as error:
        Gate.from_arguments(arguments)
    assert all(word in str(error.value) for word in words) and "\n" not in str(error.value)


@pytest.mark.one_stack
def test_the_local_runs_take_the_gate_of_the_templates_jobs():
    batch = Gate.from_arguments(template.default_arguments("batch", GATE_ARGUMENTS))
    assert batch == Gate(
        0.01,
        {"malformed_record": 0.001, "invoice_date_unparseable": 0.001, "unit_price_not_decimal": 0.001},
        min_lines_per_file=1,
    )
    stream = Gate.from_arguments(template.default_arguments("stream", GATE_ARGUMENTS))
    assert stream == Gate(batch.max_quarantined_share, batch.max_reason_shares)  # no files in a stream


@pytest.mark.one_stack
def test_the_alarms_watch_the_metrics_a_run_publishes():
    tpl = template.load()
    alarms = [a["Properties"] for a in template.resources(tpl, "AWS::CloudWatch::Alarm").values()]
    ours = [a for a in alarms if a.get("Namespace") == NAMESPACE]
    published = {d["MetricName"] for d in metric_data("j", all_quarantined(3), 1.0, [], datetime.now(UTC))}
    assert {a["MetricName"] for a in ours} == {"QuarantinedShare", "Reconciles", "LinesRead"} <= published
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in ours)
    assert all({d["Name"] for d in a["Dimensions"]} == {"JobName", "Table"} for a in ours)
    shares = [a for a in ours if a["MetricName"] == "QuarantinedShare"]
    assert all(a["Threshold"] == {"Ref": "MaxQuarantinedShare"} for a in shares)  # the gate's default, one value


@pytest.mark.one_stack
def test_a_metric_publish_that_fails_is_a_warning_not_the_runs_failure(aws):
    settings = replace(aws, region="eu-west-3")  # a client of its own: the stub leaves the session's alone
    client = settings.client("cloudwatch")
    said = []
    with Stubber(client) as stub:
        stub.add_client_error("put_metric_data", "InternalFailure", "CloudWatch is down", 500)
        ok = publish(settings, metric_data("j", all_quarantined(3), 1.0, [], datetime.now(UTC)), said.append)
    assert not ok
    assert said == [
        "warning: the run's metrics were not published to CloudWatch (An error occurred (InternalFailure) when "
        "calling the PutMetricData operation: CloudWatch is down); its data is written and its summary holds "
        "the same counts"
    ]


@pytest.mark.slow
def test_a_run_whose_every_line_is_quarantined_fails_the_gate_keeps_the_evidence_and_says_so_in_cloudwatch(
    capsys, spark, aws, tmp_path
):
    """An exporter that changed its date format: every line is quarantined, the run exits 3 with the
    gate's line, and the metrics in the emulator's CloudWatch hold its counts."""
    lines = [f"{536365 + i},85123A,WHITE HEART,6,2010.12.01 08:26,2.55,17850.0,United Kingdom" for i in range(4)]
    day = tmp_path / "2010-12-01.csv"
    day.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    job, lake = f"batch-{uuid.uuid4().hex[:8]}", Lake.at(str(tmp_path / "wh"))
    args = ["batch", "--input", str(day), "--warehouse", lake.root, "--database", "quality"]
    code = cli.main([*args, "--endpoint-url", aws.endpoint_url, "--job-name", job])
    out, err = capsys.readouterr()
    assert code == GATE_EXIT
    assert err.splitlines()[-1] == (
        "ecom-etl: quality gate failed: quarantined 100 % of the lines read (4 of 4), over max_quarantined_share "
        "1 % by 99 %; invoice_date_unparseable: 100 % of the lines read (4 of 4), over max_reason_shares 0.1 % "
        "by 99.9 %"
    )
    assert "read = kept + duplicates + quarantined: ok" in out and "quality gate: FAILED" in out
    quarantine = spark.read.format("delta").load(lake.quarantine)
    assert sorted(r.raw_invoice_no for r in quarantine.collect()) == [str(536365 + i) for i in range(4)]
    assert {tuple(r.reasons) for r in quarantine.collect()} == {("invoice_date_unparseable",)}
    assert spark.read.format("delta").load(lake.silver).count() == 0
    found = metrics(aws, job)
    assert found.pop("RunSeconds") > 0
    assert found == {
        "LinesRead": 4,
        "LinesKept": 0,
        "Duplicates": 0,
        "LinesQuarantined": 4,
        "SinkRejected": 0,
        "Reconciles": 1,
        "GateBreached": 1,
        "QuarantinedShare": 1.0,
        "QuarantinedByReason/invoice_date_unparseable": 4,
    }
