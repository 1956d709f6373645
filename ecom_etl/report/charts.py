"""The dashboard's charts: one plotly figure per section, money written -£12,808 as people read it."""

from __future__ import annotations

import html
from calendar import month_abbr
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go


@dataclass
class ReportData:
    """The dashboard's numbers, as `collect` reads them from the lake and the page draws them."""

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
    runs: list[dict] = field(default_factory=list)

    @property
    def last_run(self) -> dict:
        """The newest batch run summary, or {}: only the data-quality panel's run line uses it."""
        return self.runs[-1] if self.runs else {}


SEASONS = ("Winter", "Spring", "Summer", "Autumn")
NAME_CHARS = 28
# d3's currency format: with the page's locale (currency "£") it writes -£12,808, sign first, as
# money() does; a "£" tickprefix would give £-12,808.
MONEY = "$,.0f"
CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "locale": "en-GB",
    "locales": {"en-GB": {"format": {"currency": ["£", ""]}}},
}
_COLORS = {"net": "#1f77b4", "gross": "#2ca02c", "returns": "#d62728"}
_LAYOUT = dict(
    template="plotly_white",
    autosize=True,
    margin=dict(l=70, r=20, t=50, b=50),
    height=380,
    legend=dict(orientation="h", y=-0.2),
    font=dict(family="Helvetica, Arial, sans-serif"),
)


def money(value: float | Decimal | None) -> str:
    """£1,234,567 (whole pounds: the dashboard shows magnitudes; the tables keep the pence)."""
    value = float(value or 0)
    return f"-£{-value:,.0f}" if value < 0 else f"£{value:,.0f}"


def count(value: int | None) -> str:
    return f"{int(value or 0):,}"


def season_key(season_year: int, season: str) -> tuple[int, int]:
    """Time order of a season: its year, then Winter (which starts the previous December) first."""
    name = season.title()
    return season_year, SEASONS.index(name) if name in SEASONS else len(SEASONS)


def short_name(name: str) -> str:
    """A product name cut to fit a chart's axis, with a visible ellipsis when it was cut."""
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1].rstrip() + "…"


def _revenue_figure(rows: list[dict], labels: list[str], ticks: list[str], title: str) -> go.Figure:
    """Gross, returns and net per period; every period gets its tick, whatever the card's width."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for key, name in (("gross_revenue", "gross"), ("returns", "returns"), ("net_revenue", "net")):
        fig.add_bar(
            x=labels,
            y=[float(r[key]) for r in rows],
            name=name,
            marker_color=_COLORS[name],
            hovertemplate=f"%{{x}}<br>{name}: %{{y:{MONEY}}}<extra></extra>",
        )
    fig.update_layout(title=title, barmode="group", yaxis=dict(tickformat=MONEY), **_LAYOUT)
    fig.update_xaxes(type="category", tickmode="array", tickvals=labels, ticktext=ticks, tickangle=0)
    return fig


def _monthly(rows: list[dict]) -> go.Figure:
    labels = [f"{month_abbr[r['month']]} {r['year']}" for r in rows]
    ticks = [label.replace(" ", "<br>") for label in labels]
    return _revenue_figure(rows, labels, ticks, "Monthly revenue: net, gross and returns")


def _quarterly(rows: list[dict]) -> go.Figure:
    labels = [f"{r['year']} Q{r['quarter']}" for r in rows]
    return _revenue_figure(rows, labels, labels, "Quarterly revenue: net, gross and returns")


def _weekly(rows: list[dict]) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Scatter(
            x=[str(r["week_start"]) for r in rows],
            y=[float(r["net_revenue"]) for r in rows],
            mode="lines+markers",
            line=dict(color=_COLORS["net"]),
            name="net revenue",
            hovertemplate=f"week of %{{x}}<br>%{{y:{MONEY}}}<extra></extra>",
        )
    )
    fig.update_layout(title="Weekly net revenue", yaxis=dict(tickformat=MONEY), **_LAYOUT)
    return fig


def _seasons(top_products: list[dict]) -> go.Figure | None:
    """Top 10 per season, seasons in time order; a cut name ends in "…", the bar's hover has it whole."""
    from plotly.subplots import make_subplots

    seasons = sorted({(r["season_year"], r["season"]) for r in top_products}, key=lambda s: season_key(*s))
    if not seasons:
        return None
    cols = min(3, len(seasons))
    rows = -(-len(seasons) // cols)
    grid = make_subplots(
        rows=rows, cols=cols, horizontal_spacing=0.28, subplot_titles=[f"{s.title()} {y}" for y, s in seasons]
    )
    for i, season in enumerate(seasons):
        top = sorted((r for r in top_products if (r["season_year"], r["season"]) == season), key=lambda r: -r["rank"])
        _season_bars(grid, top, row=i // cols + 1, col=i % cols + 1)
    grid.update_layout(
        title="Top 10 products per season (net units)",
        template="plotly_white",
        autosize=True,
        height=330 * rows,
        margin=dict(l=10, r=10, t=80, b=30),
        font=dict(size=10),
    )
    grid.update_yaxes(type="category", tickmode="array", automargin=True)
    return grid


def _season_bars(grid: go.Figure, top: list[dict], row: int, col: int) -> None:
    """One season's bars, keyed by stock code so that two names cut alike stay two bars."""
    codes = [r["stock_code"] for r in top]
    names = [r["description"] or r["stock_code"] for r in top]
    grid.add_bar(
        x=[r["units_net"] for r in top],
        y=codes,
        customdata=[[html.escape(n), html.escape(c)] for n, c in zip(names, codes)],
        orientation="h",
        marker_color="#9467bd",
        showlegend=False,
        hovertemplate="%{customdata[0]}<br>%{customdata[1]}: %{x:,} units<extra></extra>",
        row=row,
        col=col,
    )
    grid.update_yaxes(tickvals=codes, ticktext=[html.escape(short_name(n)) for n in names], row=row, col=col)


def _countries(countries: list[dict]) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Bar(
            x=[float(r["net_revenue"]) for r in countries][::-1],
            y=[r["country"] for r in countries][::-1],
            orientation="h",
            marker_color="#17becf",
            hovertemplate=f"%{{y}}: %{{x:{MONEY}}}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Net revenue by country (top {len(countries)}, log scale)",
        xaxis=dict(type="log", dtick=1, tickformat=MONEY),
        yaxis=dict(automargin=True),
        **{**_LAYOUT, "height": 460},
    )
    return fig


def _identity(known: int, unknown: int) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Pie(
            labels=["known customer", "unknown customer"],
            values=[known, unknown],
            hole=0.55,
            marker=dict(colors=["#1f77b4", "#ff7f0e"]),
            sort=False,
        )
    )
    fig.update_layout(title="Orders by customer identity", **_LAYOUT)
    return fig


def _quality(reasons: dict[str, int]) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Bar(
            x=list(reasons.values()),
            y=list(reasons.keys()),
            orientation="h",
            marker_color="#8c564b",
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    fig.update_layout(title="Quarantined rows by reason", yaxis=dict(automargin=True), **_LAYOUT)
    if not reasons:
        fig.add_annotation(
            text="No quarantined rows: every line met the contract",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font=dict(size=16),
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def _runs(runs: list[dict]) -> go.Figure | None:
    """Lines read (bars) and the share quarantined (line) per batch run, with the quality gate's
    largest share as each run had it (dashed) and the runs over the gate in red."""
    import plotly.graph_objects as go

    if not runs:
        return None
    when = [r.get("run_at", "") for r in runs]
    read = [int(r.get("raw_rows") or 0) for r in runs]
    share = [
        (int(r.get("quarantined_rows") or 0) + int(r.get("sink_rejected_rows") or 0)) / n * 100 if n else None
        for r, n in zip(runs, read)
    ]
    limit = [
        r["gate"]["max_quarantined_share"] * 100
        if (r.get("gate") or {}).get("max_quarantined_share") is not None
        else None
        for r in runs
    ]
    failed = [bool(r.get("gate_breaches")) for r in runs]
    fig = go.Figure()
    fig.add_bar(
        x=when, y=read, name="lines read", marker_color="#1f77b4", hovertemplate="%{x}: %{y:,} lines<extra></extra>"
    )
    fig.add_scatter(
        x=when,
        y=share,
        name="% quarantined",
        yaxis="y2",
        mode="lines+markers",
        line=dict(color="#8c564b"),
        marker=dict(color=["#d62728" if f else "#8c564b" for f in failed], size=[11 if f else 7 for f in failed]),
        hovertemplate="%{x}: %{y:.3g} % quarantined<extra></extra>",
    )
    fig.add_scatter(
        x=when,
        y=limit,
        name="gate: largest % quarantined",
        yaxis="y2",
        mode="lines",
        line=dict(color="#d62728", dash="dash", shape="hv"),
        hovertemplate="%{x}: the gate allows %{y:.3g} %<extra></extra>",
    )
    fig.update_layout(
        title="Batch runs: lines read and share quarantined",
        yaxis=dict(title="lines read", tickformat=","),
        yaxis2=dict(title="% quarantined", overlaying="y", side="right", rangemode="tozero"),
        xaxis=dict(type="category"),
        **_LAYOUT,
    )
    return fig


def figures(data: ReportData) -> dict[str, go.Figure]:
    """Every chart of the dashboard, by its section id (money axes need the page's CONFIG locale)."""
    figs = {
        "monthly": _monthly(data.monthly),
        "quarterly": _quarterly(data.quarterly),
        "weekly": _weekly(data.weekly),
        "seasons": _seasons(data.top_products),
        "countries": _countries(data.countries),
        "unknown": _identity(data.orders_known, data.orders_unknown),
        "quality": _quality(data.quarantine_reasons),
        "runs": _runs(data.runs),
    }
    return {name: fig for name, fig in figs.items() if fig is not None}
