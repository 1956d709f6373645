"""The HTML dashboard: its numbers come from the lake, and a real headless Chromium draws it."""

import json
import os
import re
import shutil
import subprocess

import pytest

from ecom_etl.report import collect, money, render, write_report
from ecom_etl.storage import Storage

TITLES = (
    "Monthly revenue: net, gross and returns",
    "Quarterly revenue: net, gross and returns",
    "Weekly net revenue",
    "Top 10 products per season",
    "Net revenue by country",
    "Orders by customer identity",
    "Quarantined rows by reason",
)


@pytest.fixture(scope="module")
def report_data(spark, aws, loaded):
    return collect(spark, loaded[1], Storage(aws))


def test_the_numbers_are_the_lakes(spark, loaded, report_data):
    summary, lake = loaded
    assert report_data.table_rows["order_lines"] == summary.silver_rows
    assert sum(report_data.quarantine_reasons.values()) >= summary.quarantined_rows > 0
    assert len(report_data.monthly) == summary.gold_rows["revenue_monthly"]
    assert report_data.orders_unknown > 0 and report_data.orders_known > 0
    runs = sorted(os.listdir(lake.runs))
    assert report_data.last_run == json.loads(open(os.path.join(lake.runs, runs[-1])).read())


def test_money_is_formatted_for_people():
    assert (money(1234567.891), money(-2.5), money(None)) == ("£1,234,568", "-£2", "£0")


def test_the_page_is_self_contained():
    from ecom_etl.report import ReportData

    empty = ReportData([], [], [], [], [], 0, 0, {}, {"order_lines": 0}, "2011-12-09 12:00 UTC")
    page = render(empty)
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"http", page), "no external scripts or styles"
    assert "No batch run summary" in page


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    return path


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_chromium_draws_every_chart(spark, aws, loaded, tmp_path):
    from PIL import Image

    page = write_report(spark, loaded[1], Storage(aws), str(tmp_path / "report.html"))
    dom = headless("--dump-dom", f"file://{page}").stdout
    drawn = {m for m in re.findall(r'id="chart-(\w+)"', dom)}
    assert drawn == {"monthly", "quarterly", "weekly", "seasons", "countries", "unknown", "quality"}
    assert dom.count('class="main-svg"') >= 2 * len(drawn), "plotly drew an SVG for every chart"
    assert len(re.findall(r'class="point"', dom)) > 50, "bars are drawn"
    for title in TITLES:
        assert title in dom, title

    shot = tmp_path / "report.png"
    headless(f"--screenshot={shot}", "--window-size=1400,2400", f"file://{page}")
    image = Image.open(shot).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20)
    assert image.size == (1400, 2400) and len(colors) > 200, "the screenshot is not blank"
