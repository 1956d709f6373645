"""`ecom-etl report`: one self-contained HTML dashboard over the lake (plotly.js inlined, no CDN).

Collecting the numbers (Spark, small queries over gold, silver and quarantine) is apart from
drawing them, so the drawing can be tested without a lake and the numbers without a browser.
"""

import html
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ecom_etl import delta
from ecom_etl.aggregates import is_sale_line
from ecom_etl.errors import EtlInputError
from ecom_etl.lake import Lake
from ecom_etl.schema import UNKNOWN
from ecom_etl.storage import Storage

SEASONS = ("Winter", "Spring", "Summer", "Autumn")
TOP_COUNTRIES = 15


@dataclass
class ReportData:
    monthly: list[dict]
    quarterly: list[dict]
    weekly: list[dict]
    top_products: list[dict]
    countries: list[dict]
    orders_known: int
    orders_unknown: int
    quarantine_reasons: dict[str, int]
    table_rows: dict[str, int]
    built_at: str
    last_run: dict = field(default_factory=dict)


def _rows(df) -> list[dict]:
    return [row.asDict() for row in df.collect()]


def collect(spark: SparkSession, lake: Lake, storage: Storage) -> ReportData:
    """The dashboard's numbers from the lake's gold, silver and quarantine tables."""
    tables = {name: path for name, path in lake.tables().items() if delta.exists(spark, path)}
    if "order_lines" not in tables:
        raise EtlInputError(f"no lake tables under {lake.root} (run `ecom-etl batch` first)")
    read = lambda name: spark.read.format("delta").load(tables[name])  # noqa: E731
    silver = read("order_lines")
    sale = is_sale_line()
    orders = (
        silver.where(sale)
        .agg(
            F.countDistinct(F.when(F.col("customer_id") != UNKNOWN, F.col("invoice_no"))).alias("known"),
            F.countDistinct(F.when(F.col("customer_id") == UNKNOWN, F.col("invoice_no"))).alias("unknown"),
        )
        .first()
    )
    reasons = {}
    if "quarantine_order_lines" in tables:
        exploded = read("quarantine_order_lines").select(F.explode("reasons").alias("reason"))
        reasons = {
            r["reason"]: r["count"] for r in exploded.groupBy("reason").count().orderBy(F.desc("count")).collect()
        }
    from delta.tables import DeltaTable

    (last_commit,) = DeltaTable.forPath(spark, tables["order_lines"]).history(1).select("timestamp").collect()
    return ReportData(
        monthly=_rows(read("revenue_monthly").orderBy("year", "month")),
        quarterly=_rows(read("revenue_quarterly").orderBy("year", "quarter")),
        weekly=_rows(read("revenue_weekly").orderBy("week_start")),
        top_products=_rows(read("top_products_by_season").orderBy("season_year", "season", "rank")),
        countries=_rows(
            silver.groupBy("country")
            .agg(F.sum("line_amount").alias("net_revenue"))
            .orderBy(F.desc("net_revenue"))
            .limit(TOP_COUNTRIES)
        ),
        orders_known=orders["known"],
        orders_unknown=orders["unknown"],
        quarantine_reasons=reasons,
        table_rows={name: read(name).count() for name in tables},
        built_at=last_commit["timestamp"].strftime("%Y-%m-%d %H:%M UTC"),
        last_run=last_run_summary(lake, storage),
    )


def last_run_summary(lake: Lake, storage: Storage) -> dict:
    """The newest batch run summary the lake keeps (Lake.runs), or {} when there is none."""
    names = [n for n in storage.names(lake.runs) if n.endswith(".json")]
    text = storage.read_text(f"{lake.runs}/{names[-1]}") if names else None
    return json.loads(text) if text else {}


# ---------------------------------------------------------------------------------------- drawing


def money(value) -> str:
    """£1,234,567 (whole pounds: the dashboard shows magnitudes; the tables keep the pence)."""
    value = float(value or 0)
    return f"-£{-value:,.0f}" if value < 0 else f"£{value:,.0f}"


def count(value) -> str:
    return f"{int(value or 0):,}"


_COLORS = {"net": "#1f77b4", "gross": "#2ca02c", "returns": "#d62728"}
_LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=60, r=20, t=50, b=50),
    height=380,
    legend=dict(orientation="h", y=-0.18),
    font=dict(family="Helvetica, Arial, sans-serif"),
)


def _revenue_figure(rows: list[dict], label, title: str):
    import plotly.graph_objects as go

    x = [label(r) for r in rows]
    fig = go.Figure()
    for key, name in (("gross_revenue", "gross"), ("returns", "returns"), ("net_revenue", "net")):
        values = [float(r[key]) for r in rows]
        fig.add_bar(
            x=x,
            y=values,
            name=name,
            marker_color=_COLORS[name],
            hovertemplate="%{x}<br>" + name + ": £%{y:,.0f}<extra></extra>",
        )
    fig.update_layout(title=title, barmode="group", yaxis=dict(tickprefix="£", tickformat=",.0f"), **_LAYOUT)
    return fig


def figures(data: ReportData) -> dict[str, object]:
    """Every chart of the dashboard, by its section id."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figs = {
        "monthly": _revenue_figure(
            data.monthly, lambda r: f"{r['year']}-{r['month']:02d}", "Monthly revenue: net, gross and returns"
        ),
        "quarterly": _revenue_figure(
            data.quarterly, lambda r: f"{r['year']} Q{r['quarter']}", "Quarterly revenue: net, gross and returns"
        ),
    }
    weekly = go.Figure(
        go.Scatter(
            x=[str(r["week_start"]) for r in data.weekly],
            y=[float(r["net_revenue"]) for r in data.weekly],
            mode="lines+markers",
            line=dict(color=_COLORS["net"]),
            name="net revenue",
            hovertemplate="week of %{x}<br>£%{y:,.0f}<extra></extra>",
        )
    )
    weekly.update_layout(title="Weekly net revenue", yaxis=dict(tickprefix="£", tickformat=",.0f"), **_LAYOUT)
    figs["weekly"] = weekly

    seasons = sorted(
        {(r["season_year"], r["season"]) for r in data.top_products},
        key=lambda s: (s[0], SEASONS.index(s[1].title()) if s[1].title() in SEASONS else 9),
    )
    if seasons:
        cols = min(3, len(seasons))
        grid = make_subplots(
            rows=-(-len(seasons) // cols),
            cols=cols,
            horizontal_spacing=0.28,
            subplot_titles=[f"{s.title()} {y}" for y, s in seasons],
        )
        for i, (year, season) in enumerate(seasons):
            top = [r for r in data.top_products if (r["season_year"], r["season"]) == (year, season)][::-1]
            grid.add_bar(
                x=[r["units_net"] for r in top],
                y=[(r["description"] or r["stock_code"])[:28] for r in top],
                orientation="h",
                marker_color="#9467bd",
                showlegend=False,
                hovertemplate="%{y}<br>%{x:,} units<extra></extra>",
                row=i // cols + 1,
                col=i % cols + 1,
            )
        grid.update_layout(
            title="Top 10 products per season (net units)",
            template="plotly_white",
            height=330 * (-(-len(seasons) // cols)),
            margin=dict(l=10, r=10, t=80, b=30),
            font=dict(size=10),
        )
        grid.update_yaxes(automargin=True)
        figs["seasons"] = grid

    country = go.Figure(
        go.Bar(
            x=[float(r["net_revenue"]) for r in data.countries][::-1],
            y=[r["country"] for r in data.countries][::-1],
            orientation="h",
            marker_color="#17becf",
            hovertemplate="%{y}: £%{x:,.0f}<extra></extra>",
        )
    )
    country.update_layout(
        title=f"Net revenue by country (top {TOP_COUNTRIES}, log scale)",
        xaxis_type="log",
        xaxis=dict(tickprefix="£", dtick=1, tickformat=",.0f"),
        **{**_LAYOUT, "height": 460},
    )
    figs["countries"] = country

    unknown = go.Figure(
        go.Pie(
            labels=["known customer", "unknown customer"],
            values=[data.orders_known, data.orders_unknown],
            hole=0.55,
            marker=dict(colors=["#1f77b4", "#ff7f0e"]),
            sort=False,
        )
    )
    unknown.update_layout(title="Orders by customer identity", **_LAYOUT)
    figs["unknown"] = unknown

    reasons = go.Figure(
        go.Bar(
            x=list(data.quarantine_reasons.values()),
            y=list(data.quarantine_reasons.keys()),
            orientation="h",
            marker_color="#8c564b",
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    reasons.update_layout(title="Quarantined rows by reason", **_LAYOUT)
    if not data.quarantine_reasons:
        reasons.add_annotation(
            text="No quarantined rows: every line met the contract",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font=dict(size=16),
        )
        reasons.update_xaxes(visible=False)
        reasons.update_yaxes(visible=False)
    figs["quality"] = reasons
    return figs


def _kpis(data: ReportData) -> list[tuple[str, str]]:
    net = sum(float(r["net_revenue"]) for r in data.monthly)
    orders = data.orders_known + data.orders_unknown
    share = data.orders_unknown / orders if orders else 0.0
    run = data.last_run
    return [
        ("Net revenue", money(net)),
        ("Orders", count(orders)),
        ("Orders from unknown customers", f"{share:.1%}"),
        ("Order lines kept", count(data.table_rows.get("order_lines"))),
        ("Duplicates dropped (last run)", count(run.get("duplicates_dropped")) if run else "n/a"),
        ("Quarantined rows", count(data.table_rows.get("quarantine_order_lines"))),
    ]


def render(data: ReportData) -> str:
    """The whole page as one HTML string: plotly.js inlined once, every chart drawn by it."""
    from plotly.offline import get_plotlyjs

    figs = figures(data)
    divs = {
        name: fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
        for name, fig in figs.items()
    }
    kpis = "".join(
        f'<div class="kpi"><div class="value">{html.escape(v)}</div><div class="label">{html.escape(k)}</div></div>'
        for k, v in _kpis(data)
    )
    table_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{count(n)}</td></tr>" for name, n in data.table_rows.items()
    )
    run = data.last_run
    run_line = (
        f"Last batch run: {count(run.get('raw_rows'))} rows read = {count(run.get('silver_rows'))} kept + "
        f"{count(run.get('duplicates_dropped'))} duplicates + {count(run.get('quarantined_rows'))} quarantined "
        f"({'reconciles' if run.get('reconciles') else 'DOES NOT RECONCILE'}), at {html.escape(str(run.get('run_at', '?')))}."
        if run
        else "No batch run summary in the lake (streamed data only)."
    )

    def section(title: str, *names: str) -> str:
        body = "".join(f'<div class="chart">{divs[n]}</div>' for n in names if n in divs)
        return f'<section><h2>{html.escape(title)}</h2><div class="charts">{body}</div></section>'

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ecom_etl dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: Helvetica, Arial, sans-serif; margin: 0; background: #f5f6f8; color: #222; }}
 header {{ background: #243447; color: white; padding: 18px 32px; }}
 header h1 {{ margin: 0 0 4px; font-size: 24px; }} header p {{ margin: 0; opacity: .8; font-size: 13px; }}
 main {{ padding: 16px 32px 40px; }}
 .kpis {{ display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin: 8px 0 16px; }}
 .kpi {{ background: white; border-radius: 8px; padding: 14px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
 .kpi .value {{ font-size: 24px; font-weight: bold; }} .kpi .label {{ font-size: 12px; color: #666; margin-top: 4px; }}
 section {{ margin-top: 18px; }} h2 {{ font-size: 18px; margin: 8px 0; }}
 .charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }}
 .chart {{ background: white; border-radius: 8px; padding: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
 table {{ border-collapse: collapse; background: white; font-size: 13px; }}
 td, th {{ padding: 4px 12px; border-bottom: 1px solid #eee; text-align: left; }} td + td {{ text-align: right; }}
 .quality {{ display: grid; grid-template-columns: 2fr 1fr; gap: 12px; align-items: start; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<header><h1>Online retail: revenue, products and data quality</h1>
<p>Lake data built {html.escape(data.built_at)} · dashboard generated {generated} · money in GBP, exact in the tables</p></header>
<main>
<div class="kpis">{kpis}</div>
{section("Revenue by month and quarter", "monthly", "quarterly")}
{section("Weekly trend", "weekly")}
{section("Best sellers of each season", "seasons")}
{section("Where revenue comes from and who orders", "countries", "unknown")}
<section><h2>Data quality</h2><div class="quality"><div class="chart">{divs["quality"]}</div>
<div><p>{run_line}</p><table><tr><th>table</th><th>rows</th></tr>{table_rows}</table>
<p>Data built {html.escape(data.built_at)}.</p></div></div></section>
</main></body></html>
"""


def write_report(spark: SparkSession, lake: Lake, storage: Storage, out: str) -> str:
    page = render(collect(spark, lake, storage))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(page)
    return out
