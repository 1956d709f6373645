"""DuckDB reference: the gold tables of docs/data-contract.md from raw CSV, in SQL, for the benchmark.

    python bench/duckdb_ref.py INPUT_DIR OUT_DIR     -> OUT_DIR/<gold table>.parquet

A CSV line with the wrong number of fields is skipped (the contract quarantines it; it never
reaches silver, so the gold tables are the same).

Only what the bench data (the real data set and `ecom-etl generate`'s files: plain UTF-8 `*.csv`
with the exact header, years 2010-2011) can hold is implemented: no header check, BOM, gzip,
`not_utf8` or pre-1900 years, which the job handles and these files never have.
"""

import os
import sys

import duckdb

from ecom_etl.core.schema import NON_MERCHANDISE_CODES, NON_MERCHANDISE_PREFIX

WHITESPACE = " \t\n\x0b\f\r"

CLEAN = r"""
CREATE TEMP TABLE silver AS
WITH raw AS (
    SELECT * FROM read_csv({files}, header = true, all_varchar = true, quote = '"', escape = '"',
                           ignore_errors = true, parallel = true,
                           names = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'])
), text AS (
    SELECT nullif(trim(c0, $ws), '') AS inv, nullif(trim(c1, $ws), '') AS code, nullif(trim(c2, $ws), '') AS descr,
           nullif(trim(c3, $ws), '') AS qty, nullif(trim(c4, $ws), '') AS ts, nullif(trim(c5, $ws), '') AS price,
           nullif(trim(c6, $ws), '') AS cust, nullif(trim(c7, $ws), '') AS country
    FROM raw
), parsed AS (
    SELECT upper(inv) AS invoice_no, upper(code) AS stock_code, coalesce(descr, 'unknown') AS description,
           CASE WHEN regexp_full_match(qty, '[+-]?[0-9]{1,9}') THEN CAST(qty AS INTEGER) END AS quantity,
           CASE
             WHEN regexp_full_match(ts, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?')
               THEN try_strptime(ts, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M'])
             WHEN regexp_full_match(ts, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?')
               THEN try_strptime(ts, ['%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M'])
             WHEN regexp_full_match(ts, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?')
               THEN try_strptime(regexp_replace(replace(regexp_replace(ts, '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$', ''), ',', '.'),
                                                '(\.[0-9]{6})[0-9]+$', '\1'),
                                 ['%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M'])
           END AS invoice_ts,
           CASE WHEN regexp_full_match(price, '[+-]?([0-9]{1,9}(\.[0-9]{0,3}0*)?|\.[0-9]{1,3}0*)')
                THEN CAST(price AS DECIMAL(12,3)) END AS unit_price,
           CASE WHEN regexp_full_match(cust, '[0-9]+\.0+') THEN regexp_extract(cust, '^([0-9]+)', 1)
                ELSE coalesce(cust, 'unknown') END AS customer_id,
           coalesce(country, 'unknown') AS country
    FROM text
), lines AS (
    SELECT DISTINCT * FROM parsed
    WHERE invoice_no IS NOT NULL AND stock_code IS NOT NULL AND quantity IS NOT NULL
      AND unit_price IS NOT NULL AND invoice_ts IS NOT NULL
)
SELECT *,
       CAST(CAST(quantity AS DECIMAL(22,3)) * unit_price AS DECIMAL(22,3)) AS line_amount,
       starts_with(invoice_no, 'C') AS is_cancellation,
       CAST(invoice_ts AS DATE) AS invoice_date,
       year(invoice_ts) AS year, quarter(invoice_ts) AS quarter, month(invoice_ts) AS month,
       CAST(date_trunc('week', invoice_ts) AS DATE) AS week_start,
       CASE WHEN month(invoice_ts) IN (12, 1, 2) THEN 'Winter' WHEN month(invoice_ts) IN (3, 4, 5) THEN 'Spring'
            WHEN month(invoice_ts) IN (6, 7, 8) THEN 'Summer' ELSE 'Autumn' END AS season,
       year(invoice_ts) + CASE WHEN month(invoice_ts) = 12 THEN 1 ELSE 0 END AS season_year
FROM lines
"""  # noqa: E501 - the patterns read best whole

MEASURES = """
    CAST(sum(line_amount) AS DECIMAL(32,3)) AS net_revenue,
    CAST(coalesce(sum(line_amount) FILTER (WHERE sale), 0) AS DECIMAL(32,3)) AS gross_revenue,
    CAST(coalesce(sum(line_amount) FILTER (WHERE is_cancellation), 0) AS DECIMAL(32,3)) AS returns,
    count(DISTINCT invoice_no) FILTER (WHERE sale) AS orders,
    count(DISTINCT customer_id) FILTER (WHERE sale AND customer_id <> 'unknown') AS customers,
    CAST(coalesce(sum(quantity) FILTER (WHERE sale), 0) AS BIGINT) AS units
"""

REVENUE = {
    "revenue_daily": "invoice_date",
    "revenue_weekly": "week_start",
    "revenue_monthly": "year, month",
    "revenue_quarterly": "year, quarter",
}

TOP_PRODUCTS = """
WITH goods AS (
    SELECT * FROM silver WHERE stock_code NOT IN {codes} AND NOT starts_with(stock_code, '{prefix}')
), totals AS (
    SELECT season_year, season, stock_code, CAST(sum(quantity) AS BIGINT) AS units_net,
           CAST(sum(line_amount) AS DECIMAL(32,3)) AS revenue_net
    FROM goods GROUP BY ALL
), ranked AS (
    SELECT *, CAST(row_number() OVER (PARTITION BY season_year, season
                                      ORDER BY units_net DESC, revenue_net DESC, stock_code) AS INTEGER) AS rank
    FROM totals
), names AS (
    SELECT season_year, season, stock_code, description,
           row_number() OVER (PARTITION BY season_year, season, stock_code ORDER BY count(*) DESC, description) AS pick
    FROM goods WHERE description <> 'unknown' GROUP BY season_year, season, stock_code, description
)
SELECT r.season_year, r.season, r.rank, r.stock_code, coalesce(n.description, 'unknown') AS description,
       r.units_net, r.revenue_net
FROM ranked r LEFT JOIN names n
  ON n.season_year = r.season_year AND n.season = r.season AND n.stock_code = r.stock_code AND n.pick = 1
WHERE r.rank <= 10
"""


def build(input_dir: str, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    files = sorted(os.path.join(input_dir, n) for n in os.listdir(input_dir) if n.endswith(".csv"))
    con = duckdb.connect()
    con.execute(CLEAN.replace("{files}", repr(files)), {"ws": WHITESPACE})
    for table, keys in REVENUE.items():
        con.execute(f"""COPY (SELECT {keys}, {MEASURES} FROM
                            (SELECT *, NOT is_cancellation AND quantity > 0 AND unit_price > 0 AS sale FROM silver)
                            GROUP BY {keys}) TO '{out_dir}/{table}.parquet' (FORMAT parquet)""")
    codes = "(" + ", ".join(f"'{c}'" for c in NON_MERCHANDISE_CODES) + ")"
    top = TOP_PRODUCTS.format(codes=codes, prefix=NON_MERCHANDISE_PREFIX)
    con.execute(f"COPY ({top}) TO '{out_dir}/top_products_by_season.parquet' (FORMAT parquet)")


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
