"""The dashboard's one HTML page, laying out the figures of `charts`.

The page draws every chart from one script once the whole page is parsed, so a chart takes the
width of its card in the finished grid (the first card of a row is not drawn while it is still
alone in it), and follows its card on any later resize.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ecom_etl.report.charts import CONFIG, ReportData, count, figures, money

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _kpis(data: ReportData) -> list[tuple[str, str]]:
    """Headline figures, all of the whole lake (duplicates: summed over every batch run it records)."""
    net = sum(float(r["net_revenue"]) for r in data.monthly)
    orders = data.orders_known + data.orders_unknown
    share = data.orders_unknown / orders if orders else 0.0
    runs = len(data.runs)
    duplicates = sum(int(r.get("duplicates_dropped") or 0) for r in data.runs)
    return [
        ("Net revenue", money(net)),
        ("Orders", count(orders)),
        ("Orders from unknown customers", f"{share:.1%}"),
        ("Order lines kept", count(data.table_rows.get("order_lines"))),
        (f"Duplicates dropped ({runs} batch run{'' if runs == 1 else 's'})", count(duplicates) if runs else "n/a"),
        ("Quarantined rows", count(data.table_rows.get("quarantine_order_lines"))),
    ]


def _run_line(run: dict) -> str:
    """The last batch run's reconciliation: about that run alone, by design (the KPIs cover the lake)."""
    if not run:
        return "No batch run summary in the lake (streamed data only)."
    verdict = "reconciles" if run.get("reconciles") else "DOES NOT RECONCILE"
    return (
        f"Last batch run only: {count(run.get('raw_rows'))} rows read = {count(run.get('silver_rows'))} kept + "
        f"{count(run.get('duplicates_dropped'))} duplicates + {count(run.get('quarantined_rows'))} quarantined "
        f"({verdict}), at {html.escape(str(run.get('run_at', '?')))}."
    )


def _figures_json(figs: dict[str, go.Figure]) -> str:
    """The figures and plotly's config as JSON for a <script> element (plotly's JSON writes < as \\u003c,
    so no product or country name can end the element)."""
    import plotly.io as pio

    body = ",".join(f"{json.dumps(name)}:{pio.to_json(fig, validate=False)}" for name, fig in figs.items())
    return f'{{"config":{json.dumps(CONFIG)},"figures":{{{body}}}}}'


_DRAW = """
document.addEventListener("DOMContentLoaded", () => {
  const page = JSON.parse(document.getElementById("figures").textContent);
  for (const [name, fig] of Object.entries(page.figures)) {
    const div = document.getElementById("chart-" + name);
    Plotly.newPlot(div, fig.data, fig.layout, page.config).then(() =>
      new ResizeObserver(() => Plotly.Plots.resize(div)).observe(div));
  }
});
"""

_STYLE = """
 body { font-family: Helvetica, Arial, sans-serif; margin: 0; background: #f5f6f8; color: #222; }
 header { background: #243447; color: white; padding: 18px 32px; }
 header h1 { margin: 0 0 4px; font-size: 24px; } header p { margin: 0; opacity: .8; font-size: 13px; }
 main { padding: 16px 32px 40px; }
 .kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 8px 0 16px; }
 .kpi { background: white; border-radius: 8px; padding: 14px; box-shadow: 0 1px 3px rgba(0,0,0,.08); min-width: 0; }
 .kpi .value { font-size: 22px; font-weight: bold; } .kpi .label { font-size: 12px; color: #666; margin-top: 4px; }
 section { margin-top: 18px; } h2 { font-size: 18px; margin: 8px 0; }
 .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(520px, 100%), 1fr)); gap: 12px; }
 .chart { background: white; border-radius: 8px; padding: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.08); min-width: 0; }
 table { border-collapse: collapse; background: white; font-size: 13px; }
 td, th { padding: 4px 12px; border-bottom: 1px solid #eee; text-align: left; } td + td { text-align: right; }
 .quality { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 12px; align-items: start; }
"""


def _chart(name: str, figs: dict[str, go.Figure]) -> str:
    """A card holding one chart's div, as tall as the chart will be, so the page's layout is final."""
    if name not in figs:
        return ""
    height = figs[name].layout.height or 380
    return f'<div class="chart"><div id="chart-{name}" class="plot" style="height:{height}px"></div></div>'


def render(data: ReportData) -> str:
    """The whole page as one HTML string: plotly.js inlined once, every chart drawn by it."""
    from plotly.offline import get_plotlyjs

    figs = figures(data)
    kpis = "".join(
        f'<div class="kpi"><div class="value">{html.escape(v)}</div><div class="label">{html.escape(k)}</div></div>'
        for k, v in _kpis(data)
    )
    table_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{count(n)}</td></tr>" for name, n in data.table_rows.items()
    )

    def section(title: str, *names: str) -> str:
        body = "".join(_chart(n, figs) for n in names)
        return f'<section><h2>{html.escape(title)}</h2><div class="charts">{body}</div></section>'

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ecom_etl dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<header><h1>Online retail: revenue, products and data quality</h1>
<p>Lake data built {html.escape(data.built_at)} · dashboard generated {generated} ·
money in GBP, exact in the tables</p></header>
<main>
<div class="kpis">{kpis}</div>
{section("Revenue by month and quarter", "monthly", "quarterly")}
{section("Weekly trend", "weekly")}
{section("Best sellers of each season", "seasons")}
{section("Where revenue comes from and who orders", "countries", "unknown")}
<section><h2>Data quality</h2><div class="quality">{_chart("quality", figs)}
<div><p>{_run_line(data.last_run)}</p><table><tr><th>table</th><th>rows</th></tr>{table_rows}</table>
<p>Data built {html.escape(data.built_at)}.</p></div></div></section>
{section("Run history and the quality gate", "runs")}
</main>
<script type="application/json" id="figures">{_figures_json(figs)}</script>
<script>{_DRAW}</script>
</body></html>
"""
