"""pandas reference: the gold tables of docs/data-contract.md from raw CSV, for the benchmark.

    python bench/pandas_ref.py INPUT_DIR OUT_DIR     -> OUT_DIR/<gold table>.parquet

Money is exact: prices and amounts are integer thousandths (int64) until written as DECIMAL; an
amount beyond int64 stops the run (the bench data's largest is far below).
A CSV line with the wrong number of fields is skipped (the contract quarantines it).

Memory grows with the largest file and day and with the distinct keys, not with the input (all of
100x at once does not fit in 16 GiB): each file is cleaned alone, in a pool of one process per
core, and its lines are set aside by invoice day; each day is then de-duplicated alone (exact
duplicates share their timestamp, so their day) and reduced to what the gold tables add up: its
sums, its distinct sale invoices and customers, its product totals and description counts.

Only what the bench data (the real data set and `ecom-etl generate`'s files: plain UTF-8 `*.csv`
with the exact header, years 2010-2011) can hold is implemented: no header check, BOM, gzip,
`not_utf8` or pre-1900 years, which the job handles and these files never have.
"""

import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecom_etl.core.schema import HEADER, NON_MERCHANDISE_CODES, NON_MERCHANDISE_PREFIX

WHITESPACE = " \t\n\x0b\f\r"
SEASONS = {
    month: season
    for season, months in (
        ("Winter", (12, 1, 2)),
        ("Spring", (3, 4, 5)),
        ("Summer", (6, 7, 8)),
        ("Autumn", (9, 10, 11)),
    )
    for month in months
}
PRODUCT = ["season_year", "season", "stock_code"]


def read(path: str) -> pd.DataFrame:
    # Too many fields: skipped by the parser. Too few: NaN in the missing ones (a present field is at
    # least ""). Both are malformed records.
    raw = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[],
        header=0,
        names=list(HEADER),
        on_bad_lines="skip",
        engine="c",
    )
    return raw[raw.notna().all(axis=1)]


def _text(col: pd.Series) -> pd.Series:
    trimmed = col.str.strip(WHITESPACE)
    return trimmed.where(trimmed != "")


def _timestamps(ts: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=ts.index, dtype="datetime64[us]")
    shapes = (
        (r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?", ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")),
        (r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?", ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")),
    )
    for regex, formats in shapes:
        shape = ts.str.fullmatch(regex).fillna(False)
        for fmt in formats:
            todo = shape & out.isna()
            if todo.any():
                out[todo] = pd.to_datetime(ts[todo], format=fmt, errors="coerce")
    iso = ts.str.fullmatch(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
        r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
    ).fillna(False)
    if iso.any():
        wall = (
            ts[iso]
            .str.replace(r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$", "", regex=True)
            .str.replace(",", ".")
            .str.replace(r"(\.[0-9]{6})[0-9]+$", r"\1", regex=True)
        )
        out[iso] = pd.to_datetime(wall, format="ISO8601", errors="coerce")
    return out


def _thousandths(price: pd.Series) -> pd.Series:
    """'2.55' -> 2550, exactly (the regex guard leaves at most 3 significant fraction digits)."""
    sign = price.str.startswith("-").map({True: -1, False: 1})
    parts = price.str.lstrip("+-").str.partition(".")
    whole = parts[0].replace("", "0").astype("int64")
    fraction = parts[2].str.rstrip("0").str.ljust(3, "0").str[:3].astype("int64")
    return sign * (whole * 1000 + fraction)


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    """The clean lines of some raw ones, duplicates still in."""
    t = {c: _text(raw[c]) for c in HEADER}
    qty_ok = t["Quantity"].str.fullmatch(r"[+-]?[0-9]{1,9}").fillna(False)
    price_ok = t["UnitPrice"].str.fullmatch(r"[+-]?([0-9]{1,9}(\.[0-9]{0,3}0*)?|\.[0-9]{1,3}0*)").fillna(False)
    ts = _timestamps(t["InvoiceDate"])
    ok = t["InvoiceNo"].notna() & t["StockCode"].notna() & qty_ok & price_ok & ts.notna()
    if not ok.any():  # a file may hold no clean line
        return pd.DataFrame()
    cust = t["CustomerID"][ok]
    numeric = cust.str.fullmatch(r"[0-9]+\.0+").fillna(False)
    return pd.DataFrame(
        {
            "invoice_no": t["InvoiceNo"][ok].str.upper(),
            "stock_code": t["StockCode"][ok].str.upper(),
            "description": t["Description"][ok].fillna("unknown"),
            "quantity": t["Quantity"][ok].astype("int64"),
            "invoice_ts": ts[ok],
            "price_m": _thousandths(t["UnitPrice"][ok]),
            "customer_id": cust.where(~numeric, cust.str.partition(".")[0]).fillna("unknown"),
            "country": t["Country"][ok].fillna("unknown"),
        }
    )


def set_aside(path: str, parts: str) -> set[str]:
    """Clean one file; its lines go to parts/<invoice day>/<file>.parquet. -> the days it holds."""
    lines = clean(read(path))
    name = os.path.basename(path) + ".parquet"
    days = set()
    if lines.empty:
        return days
    for day, part in lines.groupby(lines["invoice_ts"].dt.strftime("%Y-%m-%d")):
        os.makedirs(os.path.join(parts, day), exist_ok=True)
        part.to_parquet(os.path.join(parts, day, name), index=False)
        days.add(day)
    return days


def reduce_day(folder: str) -> dict[str, pd.DataFrame]:
    """One day's distinct lines -> the partial results the gold tables add up."""
    parts = sorted(os.listdir(folder))
    lines = pd.concat([pd.read_parquet(os.path.join(folder, p)) for p in parts], ignore_index=True)
    lines = lines.drop_duplicates()
    day = lines["invoice_ts"].iloc[0].date()
    if (lines["quantity"].astype(float) * lines["price_m"].astype(float)).abs().max() >= 2**62:
        raise SystemExit(f"{folder}: an amount beyond int64 thousandths; this reference cannot hold it")
    amount = lines["quantity"] * lines["price_m"]
    cancelled = lines["invoice_no"].str.startswith("C")
    sale = ~cancelled & (lines["quantity"] > 0) & (lines["price_m"] > 0)
    sums = pd.DataFrame(
        {
            "invoice_date": [day],
            "net_m": [amount.sum()],
            "gross_m": [amount[sale].sum()],
            "returns_m": [amount[cancelled].sum()],
            "units": [lines["quantity"][sale].sum()],
        }
    )
    known = lines["customer_id"] != "unknown"
    month = lines["invoice_ts"].dt.month
    goods = lines.assign(
        amount_m=amount, season=month.map(SEASONS), season_year=lines["invoice_ts"].dt.year + (month == 12)
    )
    code = goods["stock_code"]
    goods = goods[~code.isin(NON_MERCHANDISE_CODES) & ~code.str.startswith(NON_MERCHANDISE_PREFIX)]
    return {
        "sums": sums,
        "orders": pd.DataFrame({"invoice_date": day, "key": lines["invoice_no"][sale].unique()}),
        "customers": pd.DataFrame({"invoice_date": day, "key": lines["customer_id"][sale & known].unique()}),
        "products": goods.groupby(PRODUCT).agg(units_net=("quantity", "sum"), revenue_m=("amount_m", "sum")),
        "names": goods[goods["description"] != "unknown"].groupby([*PRODUCT, "description"]).size().rename("n"),
    }


def calendar(frame: pd.DataFrame) -> pd.DataFrame:
    """`invoice_date` -> the keys of every revenue table beside it."""
    days = frame["invoice_date"]
    return frame.assign(
        week_start=[d - timedelta(days=d.weekday()) for d in days],
        year=[d.year for d in days],
        month=[d.month for d in days],
        quarter=[(d.month - 1) // 3 + 1 for d in days],
    )


def _money(values: pd.Series) -> list[Decimal]:
    return [Decimal(int(v)).scaleb(-3) for v in values]


MONEY = pa.decimal128(32, 3)


def revenue(partial: dict[str, pd.DataFrame], keys: list[str]) -> pa.Table:
    g = (
        calendar(partial["sums"])
        .groupby(keys)
        .agg(net_m=("net_m", "sum"), gross_m=("gross_m", "sum"), returns_m=("returns_m", "sum"), units=("units", "sum"))
    )
    for counted in ("orders", "customers"):
        distinct = calendar(partial[counted]).drop_duplicates([*keys, "key"])
        g[counted] = distinct.groupby(keys).size().reindex(g.index, fill_value=0)
    g = g.reset_index()
    columns = {k: pa.array(g[k].tolist(), type=pa.int32() if k in ("year", "month", "quarter") else None) for k in keys}
    columns.update(
        {
            "net_revenue": pa.array(_money(g["net_m"]), MONEY),
            "gross_revenue": pa.array(_money(g["gross_m"]), MONEY),
            "returns": pa.array(_money(g["returns_m"]), MONEY),
            "orders": pa.array(g["orders"], pa.int64()),
            "customers": pa.array(g["customers"], pa.int64()),
            "units": pa.array(g["units"], pa.int64()),
        }
    )
    return pa.table(columns)


def top_products(partial: dict[str, pd.DataFrame]) -> pa.Table:
    totals = partial["products"].groupby(PRODUCT).sum().reset_index()
    totals = totals.sort_values(
        ["season_year", "season", "units_net", "revenue_m", "stock_code"], ascending=[True, True, False, False, True]
    )
    totals["rank"] = totals.groupby(["season_year", "season"]).cumcount() + 1
    top = totals[totals["rank"] <= 10]
    named = partial["names"].groupby([*PRODUCT, "description"]).sum().reset_index()
    named = named.sort_values([*PRODUCT, "n", "description"], ascending=[True, True, True, False, True])
    names = named.drop_duplicates(PRODUCT)[[*PRODUCT, "description"]]
    top = top.merge(names, on=PRODUCT, how="left")
    top["description"] = top["description"].fillna("unknown")
    return pa.table(
        {
            "season_year": pa.array(top["season_year"], pa.int32()),
            "season": pa.array(top["season"]),
            "rank": pa.array(top["rank"], pa.int32()),
            "stock_code": pa.array(top["stock_code"]),
            "description": pa.array(top["description"]),
            "units_net": pa.array(top["units_net"], pa.int64()),
            "revenue_net": pa.array(_money(top["revenue_m"]), MONEY),
        }
    )


def build(input_dir: str, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    files = sorted(os.path.join(input_dir, n) for n in os.listdir(input_dir) if n.endswith(".csv"))
    parts = os.path.join(out_dir, "_lines_by_day")
    shutil.rmtree(parts, ignore_errors=True)  # what a killed run left
    try:
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            days = sorted(set().union(*pool.map(set_aside, files, [parts] * len(files))))
            reduced = list(pool.map(reduce_day, [os.path.join(parts, d) for d in days]))
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    partial = {name: pd.concat([r[name] for r in reduced]) for name in reduced[0]}
    for table, keys in (
        ("revenue_daily", ["invoice_date"]),
        ("revenue_weekly", ["week_start"]),
        ("revenue_monthly", ["year", "month"]),
        ("revenue_quarterly", ["year", "quarter"]),
    ):
        pq.write_table(revenue(partial, keys), os.path.join(out_dir, f"{table}.parquet"))
    pq.write_table(top_products(partial), os.path.join(out_dir, "top_products_by_season.parquet"))


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
