"""The HTML dashboard: its numbers come from the lake, and a real headless Chromium draws it."""

import html
import json
import os
import re
import shutil
import subprocess
from calendar import month_abbr
from datetime import date
from pathlib import Path

import pytest

from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.report.charts import ReportData, figures, money
from ecom_etl.report.collect import collect, run_summaries, write_report
from ecom_etl.report.page import render

TITLES = (
    "Monthly revenue: net, gross and returns",
    "Quarterly revenue: net, gross and returns",
    "Weekly net revenue",
    "Top 10 products per season",
    "Net revenue by country",
    "Orders by customer identity",
    "Quarantined rows by reason",
    "Batch runs: lines read and share quarantined",
)
CHARTS = {"monthly", "quarterly", "weekly", "seasons", "countries", "unknown", "quality", "runs"}
SEASON_START = {"Winter": -1, "Spring": 3, "Summer": 6, "Autumn": 9}  # month it starts (-1: previous December)
LONG_NAME = "SET OF 3 VINTAGE CAKE TINS WITH A GREEN RIBBON"
WIDTHS = (1024, 1400, 1920)


def season_start(year: int, season: str) -> tuple[int, int]:
    month = SEASON_START[season]
    return (year - 1, 12) if month < 0 else (year, month)


def revenue(gross: float, returns: float, **period) -> dict:
    return {**period, "gross_revenue": gross, "returns": returns, "net_revenue": gross + returns}


def product(year: int, season: str, rank: int, code: str, description: str) -> dict:
    return dict(
        season_year=year, season=season, rank=rank, stock_code=code, description=description, units_net=10 * (4 - rank)
    )


def report(**changes) -> ReportData:
    """A small lake's numbers, written out: a month of heavy returns, a long product name."""
    data = dict(
        monthly=[revenue(50_000, -12_808.4, year=2010, month=12), revenue(20_000, -100, year=2011, month=1)],
        quarterly=[revenue(50_000, -12_808.4, year=2010, quarter=4), revenue(20_000, -100, year=2011, quarter=1)],
        weekly=[
            {"week_start": date(2010, 11, 29), "net_revenue": -12_808.4},
            {"week_start": date(2010, 12, 6), "net_revenue": 900},
        ],
        top_products=[
            product(2011, "Summer", 1, "22423", "REGENCY CAKESTAND 3 TIER"),
            product(2011, "Winter", 1, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER"),
            product(2011, "Winter", 2, "22720", LONG_NAME),
            product(2011, "Spring", 1, "84879", "ASSORTED COLOUR BIRD ORNAMENT"),
            product(2010, "Autumn", 1, "21212", "PACK OF 72 RETROSPOT CAKE CASES"),
        ],
        countries=[{"country": "United Kingdom", "net_revenue": 40_000}, {"country": "EIRE", "net_revenue": 2_000}],
        orders_known=90,
        orders_unknown=10,
        quarantine_reasons={"unit_price_missing": 3},
        table_rows={"order_lines": 1000, "quarantine_order_lines": 3},
        built_at="2011-12-09 12:00 UTC",
        runs=[
            {"raw_rows": 800, "silver_rows": 795, "duplicates_dropped": 3, "quarantined_rows": 2, "reconciles": True},
            {"raw_rows": 208, "silver_rows": 205, "duplicates_dropped": 2, "quarantined_rows": 1, "reconciles": True},
        ],
    )
    return ReportData(**{**data, **changes})


@pytest.fixture(scope="module")
def report_data(spark, aws, loaded):
    return collect(spark, loaded[1], Storage(aws))


@pytest.mark.slow
def test_the_numbers_are_the_lakes(spark, loaded, report_data):
    """The report's figures are the lake's, computed from its tables."""
    summary, lake = loaded
    assert report_data.table_rows["order_lines"] == summary.silver_rows
    assert sum(report_data.quarantine_reasons.values()) >= summary.quarantined_rows > 0
    assert len(report_data.monthly) == summary.gold_rows["revenue_monthly"]
    assert report_data.orders_unknown > 0 and report_data.orders_known > 0
    files = sorted(os.listdir(lake.runs))
    assert report_data.runs == [json.loads((Path(lake.runs) / f).read_text()) for f in files]
    assert report_data.last_run == report_data.runs[-1]


@pytest.mark.slow
def test_seasons_come_in_time_order_from_the_lake(report_data):
    """Seasons read from a real lake come in time order."""
    seasons = list(dict.fromkeys((r["season_year"], r["season"]) for r in report_data.top_products))
    assert len(seasons) >= 4
    assert seasons == sorted(seasons, key=lambda s: season_start(*s)), "Winter 2011 (from Dec 2010) first"


@pytest.mark.one_stack
def test_seasons_come_in_time_order_in_the_chart():
    titles = [a.text for a in figures(report()).get("seasons").layout.annotations]
    assert titles == ["Autumn 2010", "Winter 2011", "Spring 2011", "Summer 2011"]


@pytest.mark.one_stack
def test_the_headline_figures_cover_every_batch_run(tmp_path, aws):
    lake = Lake.at(str(tmp_path))
    os.makedirs(lake.runs)
    for name, dups in (("batch-20111201T000000Z.json", 3), ("batch-20111202T000000Z.json", 2)):
        (tmp_path / "_runs" / name).write_text(json.dumps({"duplicates_dropped": dups, "raw_rows": 10}))
    (tmp_path / "_runs" / "notes.txt").write_text("not a summary")
    runs = run_summaries(lake, Storage(aws))
    assert [r["duplicates_dropped"] for r in runs] == [3, 2]

    page = render(report(runs=runs))
    kpi = '<div class="value">5</div><div class="label">Duplicates dropped (2 batch runs)</div>'
    assert kpi in page, "the duplicates of both runs, not the last run's 2"
    assert "Last batch run only: 10 rows read" in page


@pytest.mark.one_stack
def test_the_run_history_draws_each_runs_lines_share_and_gate():
    gate = {"max_quarantined_share": 0.01, "max_reason_shares": {}, "min_lines_per_file": 1}
    runs = [
        {"run_at": "2011-01-01T04:00:00+00:00", "raw_rows": 800, "quarantined_rows": 4, "gate": gate},
        {
            "run_at": "2011-01-02T04:00:00+00:00",
            "raw_rows": 200,
            "quarantined_rows": 200,
            "gate": gate,
            "gate_breaches": ["quarantined 100 % ..."],
        },
        {
            "run_at": "2011-01-03T04:00:00+00:00",
            "raw_rows": 0,
            "quarantined_rows": 0,
            "gate": {**gate, "max_quarantined_share": 0.02},
        },
    ]
    read, share, limit = figures(report(runs=runs))["runs"].data
    assert list(read.y) == [800, 200, 0]
    assert list(share.y) == [0.5, 100.0, None]  # no share of a run that read nothing
    assert list(limit.y) == [1.0, 1.0, 2.0]  # each run's own threshold
    assert [c == "#d62728" for c in share.marker.color] == [False, True, False]  # the run over the gate
    assert "runs" not in figures(report(runs=[]))


@pytest.mark.one_stack
def test_money_is_formatted_for_people():
    assert (money(1234567.891), money(-2.5), money(None)) == ("£1,234,568", "-£2", "£0")


@pytest.mark.one_stack
def test_money_charts_use_the_pages_pound_format():
    """A "£" prefix before plotly's number gives £-12,808: the currency must come from the format."""
    page_config = re.search(r'"config":(\{.*?\}\}\}),"figures"', render(report())).group(1)
    assert json.loads(page_config)["locales"]["en-GB"]["format"]["currency"] == ["£", ""]
    figs = figures(report())
    for name in ("monthly", "quarterly", "weekly", "countries"):
        layout = figs[name].layout
        axis = layout.xaxis if name == "countries" else layout.yaxis
        assert (axis.tickformat, axis.tickprefix) == ("$,.0f", None), name
        for trace in figs[name].data:
            assert "£" not in trace.hovertemplate and "$,.0f}" in trace.hovertemplate, name


@pytest.mark.one_stack
def test_long_product_names_are_cut_visibly_and_shown_whole_on_hover():
    seasons = figures(report()).get("seasons")
    winter = seasons.layout.yaxis2
    assert list(winter.tickvals) == ["22720", "85123A"], "bars keyed by stock code: cut names never merge"
    cut = winter.ticktext[0]
    assert cut.endswith("…") and LONG_NAME.startswith(cut[:-1]) and len(cut) <= 28
    assert winter.ticktext[1] == "WHITE HANGING HEART T-LIGHT…"
    hovers = [row[0] for trace in seasons.data for row in trace.customdata]
    assert LONG_NAME in hovers and "REGENCY CAKESTAND 3 TIER" in hovers


@pytest.mark.one_stack
def test_the_page_is_self_contained():
    empty = ReportData([], [], [], [], [], 0, 0, {}, {"order_lines": 0}, "2011-12-09 12:00 UTC")
    page = render(empty)
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"http", page), "no external scripts or styles"
    assert "No batch run summary" in page
    evil = render(report(countries=[{"country": "</script><script>alert(1)", "net_revenue": 1}]))
    assert evil.count("</script>") == render(report()).count("</script>"), "a name cannot end the figures' script"


# ------------------------------------------------------------------------------------------ chromium

# Runs in the page after load: where each chart is drawn against its card, its tick labels and,
# with HOVER, the hover label of each of its points, as JSON in <pre id="layout-check">.
MEASURE = """
window.addEventListener("load", () => setTimeout(async () => {
  const out = {innerWidth: innerWidth, scrollWidth: document.documentElement.scrollWidth, charts: {}};
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    const card = gd.closest(".chart").getBoundingClientRect();
    const svg = gd.querySelector(".main-svg").getBoundingClientRect();
    const texts = (sel) => [...gd.querySelectorAll(sel)].map((t) => t.textContent);
    const hovers = [];
    for (const [i, t] of (HOVER ? gd._fullData : []).entries()) {
      for (let p = 0; p < (t.x || t.values || []).length; p++) {
        Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: p}], (t.xaxis || "x") + (t.yaxis || "y"));
        await new Promise((r) => setTimeout(r, 60));
        hovers.push(gd.querySelector(".hoverlayer").textContent);
      }
    }
    out.charts[gd.id.replace("chart-", "")] = {card: [card.left, card.right], svg: [svg.left, svg.right],
      ticks: texts("[class$=tick] text"), xticks: texts(".xtick text"), hovers};
  }
  const pre = document.createElement("pre");
  pre.id = "layout-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300));
"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    return path


def headless(*args: str) -> subprocess.Popen:
    flags = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000")
    return subprocess.Popen([chromium(), *flags, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def measured(page: str, widths, hover: bool = False) -> tuple[dict, dict]:
    """Each width's layout check (all browsers at once: a few seconds), and each width's DOM."""
    text = Path(page).read_text(encoding="utf-8")
    script = f"<script>const HOVER = {str(hover).lower()};{MEASURE}</script></body>"
    probe = page.replace(".html", ".measured.html")
    Path(probe).write_text(text.replace("</body>", script), encoding="utf-8")
    runs = {w: headless(f"--window-size={w},1200", "--dump-dom", f"file://{probe}") for w in widths}
    doms = {w: run.communicate(timeout=120)[0] for w, run in runs.items()}
    checks = {}
    for w, dom in doms.items():
        found = re.search(r'<pre id="layout-check">(.*?)</pre>', dom, re.S)
        assert found, f"the page never finished drawing at {w} px"
        checks[w] = json.loads(html.unescape(found.group(1)))
    return checks, doms


@pytest.mark.slow
def test_chromium_draws_every_chart_inside_its_card(spark, aws, loaded, report_data, tmp_path):
    """A real browser lays every chart inside its card."""
    from PIL import Image

    page = write_report(spark, loaded[1], Storage(aws), str(tmp_path / "report.html"))
    shot = tmp_path / "report.png"
    screenshot = headless(f"--screenshot={shot}", "--window-size=1400,2400", f"file://{page}")
    checks, doms = measured(page, WIDTHS)
    months = [f"{month_abbr[r['month']]}{r['year']}" for r in report_data.monthly]
    assert len(months) > 6
    for width, check in checks.items():
        assert check["innerWidth"] == width and check["scrollWidth"] <= width, f"the page overflows at {width} px"
        assert set(check["charts"]) == CHARTS
        for name, chart in check["charts"].items():
            (card_left, card_right), (left, right) = chart["card"], chart["svg"]
            assert card_left <= left and right <= card_right, f"{name} overflows its card at {width} px"
            assert right - left >= 0.9 * (card_right - card_left), f"{name} does not fill its card at {width} px"
        assert check["charts"]["monthly"]["xticks"] == months, f"every month has its label at {width} px"
    dom = doms[1400]
    assert len(re.findall(r'class="point"', dom)) > 50, "bars are drawn"
    for title in TITLES:
        assert title in dom, title

    screenshot.wait(timeout=120)
    image = Image.open(shot).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20)
    assert image.size == (1400, 2400) and len(colors) > 200, "the screenshot is not blank"


@pytest.mark.one_stack
@pytest.mark.slow
def test_chromium_shows_money_sign_first_and_names_whole(tmp_path):
    """A real browser shows the money sign first and product names whole."""
    page = tmp_path / "report.html"
    page.write_text(render(report()), encoding="utf-8")
    charts = measured(str(page), (1400,), hover=True)[0][1400]["charts"]
    texts = [t for chart in charts.values() for t in chart["ticks"] + chart["hovers"]]
    assert not [t for t in texts if "£-" in t or "£−" in t], "no £-12,808"
    assert "Dec2010returns: -£12,808" in charts["monthly"]["hovers"]
    for name in ("monthly", "quarterly", "weekly"):  # plotly writes a tick's minus as U+2212
        assert any(re.fullmatch(r"[-−]£\d+,\d{3}", t) for t in charts[name]["ticks"]), f"{name}: a tick -£10,000"
    assert any(LONG_NAME in h for h in charts["seasons"]["hovers"]), "the whole name on hover"
    assert "SET OF 3 VINTAGE CAKE TINS…" in charts["seasons"]["ticks"], "a cut name, visibly cut"
