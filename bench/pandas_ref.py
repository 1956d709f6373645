"""pandas reference: the gold tables of docs/data-contract.md from raw CSV, for the benchmark.

    python bench/pandas_ref.py INPUT_DIR OUT_DIR     -> OUT_DIR/<gold table>.parquet

Money is exact: prices and amounts are integer thousandths (int64) until written as DECIMAL.
A CSV line with the wrong number of fields is skipped (the contract quarantines it).

Only what the bench data (the real data set and `ecom-etl generate`'s files: plain UTF-8 `*.csv`
with the exact header, years 2010-2011) can hold is implemented: no header check, BOM, gzip,
`not_utf8` or pre-1900 years, which the job handles and these files never have.
"""

import os
import sys
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecom_etl.schema import HEADER, NON_MERCHANDISE_CODES, NON_MERCHANDISE_PREFIX

WHITESPACE = " \t\n\x0b\f\r"


def read(input_dir: str) -> pd.DataFrame:
    files = sorted(os.path.join(input_dir, n) for n in os.listdir(input_dir) if n.endswith(".csv"))
    # Too many fields: skipped by the parser. Too few: NaN in the missing ones (a present field is at
    # least ""). Both are malformed records.
    frames = [
        pd.read_csv(
            f,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            header=0,
            names=list(HEADER),
            on_bad_lines="skip",
            engine="c",
        )
        for f in files
    ]
    raw = pd.concat(frames, ignore_index=True)
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
    body = price.str.lstrip("+-")
    whole, _, fraction = body.str.partition(".").T.values
    whole = pd.Series(whole, index=price.index).replace("", "0").astype("int64")
    fraction = pd.Series(fraction, index=price.index).str.rstrip("0").str.ljust(3, "0").str[:3].astype("int64")
    return sign * (whole * 1000 + fraction)


def silver(raw: pd.DataFrame) -> pd.DataFrame:
    t = {c: _text(raw[c]) for c in HEADER}
    qty_ok = t["Quantity"].str.fullmatch(r"[+-]?[0-9]{1,9}").fillna(False)
    price_ok = t["UnitPrice"].str.fullmatch(r"[+-]?([0-9]{1,9}(\.[0-9]{0,3}0*)?|\.[0-9]{1,3}0*)").fillna(False)
    ts = _timestamps(t["InvoiceDate"])
    ok = t["InvoiceNo"].notna() & t["StockCode"].notna() & qty_ok & price_ok & ts.notna()
    cust = t["CustomerID"][ok]
    numeric = cust.str.fullmatch(r"[0-9]+\.0+").fillna(False)
    lines = pd.DataFrame(
        {
            "invoice_no": t["InvoiceNo"][ok].str.upper(),
            "stock_code": t["StockCode"][ok].str.upper(),
            "description": t["Description"][ok].fillna("unknown"),
            "quantity": t["Quantity"][ok].astype("int64"),
            "invoice_ts": ts[ok],
            "price_m": _thousandths(t["UnitPrice"][ok]),
            "customer_id": cust.where(~numeric, cust.str.split(".").str[0]).fillna("unknown"),
            "country": t["Country"][ok].fillna("unknown"),
        }
    ).drop_duplicates()
    ts = lines["invoice_ts"]
    month = ts.dt.month
    lines["amount_m"] = lines["quantity"] * lines["price_m"]
    lines["is_cancellation"] = lines["invoice_no"].str.startswith("C")
    lines["invoice_date"] = ts.dt.date
    lines["year"], lines["quarter"], lines["month"] = ts.dt.year, ts.dt.quarter, month
    lines["week_start"] = (ts.dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")).dt.date
    lines["season"] = month.map(
        {
            12: "Winter",
            1: "Winter",
            2: "Winter",
            3: "Spring",
            4: "Spring",
            5: "Spring",
            6: "Summer",
            7: "Summer",
            8: "Summer",
            9: "Autumn",
            10: "Autumn",
            11: "Autumn",
        }
    )
    lines["season_year"] = ts.dt.year + (month == 12).astype("int64")
    return lines


def _money(values: pd.Series) -> list[Decimal]:
    return [Decimal(int(v)).scaleb(-3) for v in values]


MONEY = pa.decimal128(32, 3)


def revenue(lines: pd.DataFrame, keys: list[str]) -> pa.Table:
    sale = ~lines["is_cancellation"] & (lines["quantity"] > 0) & (lines["price_m"] > 0)
    work = lines.assign(
        gross_m=lines["amount_m"].where(sale, 0),
        returns_m=lines["amount_m"].where(lines["is_cancellation"], 0),
        sale_invoice=lines["invoice_no"].where(sale),
        sale_customer=lines["customer_id"].where(sale & (lines["customer_id"] != "unknown")),
        sale_units=lines["quantity"].where(sale, 0),
    )
    g = (
        work.groupby(keys, sort=False)
        .agg(
            net_m=("amount_m", "sum"),
            gross_m=("gross_m", "sum"),
            returns_m=("returns_m", "sum"),
            orders=("sale_invoice", "nunique"),
            customers=("sale_customer", "nunique"),
            units=("sale_units", "sum"),
        )
        .reset_index()
    )
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


def top_products(lines: pd.DataFrame) -> pa.Table:
    code = lines["stock_code"]
    goods = lines[~code.isin(NON_MERCHANDISE_CODES) & ~code.str.startswith(NON_MERCHANDISE_PREFIX)]
    product = ["season_year", "season", "stock_code"]
    totals = goods.groupby(product).agg(units_net=("quantity", "sum"), revenue_m=("amount_m", "sum")).reset_index()
    totals = totals.sort_values(
        ["season_year", "season", "units_net", "revenue_m", "stock_code"], ascending=[True, True, False, False, True]
    )
    totals["rank"] = totals.groupby(["season_year", "season"]).cumcount() + 1
    top = totals[totals["rank"] <= 10]
    named = goods[goods["description"] != "unknown"].groupby([*product, "description"]).size().reset_index(name="n")
    named = named.sort_values([*product, "n", "description"], ascending=[True, True, True, False, True])
    names = named.drop_duplicates(product)[[*product, "description"]]
    top = top.merge(names, on=product, how="left")
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
    lines = silver(read(input_dir))
    for table, keys in (
        ("revenue_daily", ["invoice_date"]),
        ("revenue_weekly", ["week_start"]),
        ("revenue_monthly", ["year", "month"]),
        ("revenue_quarterly", ["year", "quarter"]),
    ):
        pq.write_table(revenue(lines, keys), os.path.join(out_dir, f"{table}.parquet"))
    pq.write_table(top_products(lines), os.path.join(out_dir, "top_products_by_season.parquet"))


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
