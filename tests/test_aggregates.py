"""Gold tables: revenue per period and the top products per season."""

from datetime import date
from decimal import Decimal

from chispa import assert_df_equality

from ecom_etl.core.aggregates import gold_aggregates, gold_tables
from ecom_etl.core.schema import REVENUE_MEASURES, REVENUE_TABLES, TOP_PRODUCTS_COLUMNS
from tests.builders import silver_line, silver_lines

D = Decimal


def gold(silver):
    return gold_tables(*gold_aggregates(silver))


def test_revenue_measures_follow_the_contract(spark):
    day = "2011-03-15 10:00:00"
    silver = silver_lines(
        spark,
        silver_line("1", "A", 2, "1.50", day, "17850"),  # sale
        silver_line("1", "B", 1, "0.25", day, "17850"),  # sale, same order and customer
        silver_line("2", "A", 3, "1.00", day, "unknown"),  # sale, unknown customer: order yes, customer no
        silver_line("C3", "A", -2, "1.50", day, "17850"),  # cancellation -> returns
        silver_line("4", "A", 5, "0", day, "12346"),  # zero price: not a sale
        silver_line("5", "B", 1, "-11062.06", day, "12346"),  # bad debt adjustment: not a sale
        silver_line("6", "A", 1, "9.99", "2011-03-16 10:00:00", "12346"),  # another day
    )
    expected = spark.createDataFrame(
        [
            (date(2011, 3, 15), D("-11058.810"), D("6.250"), D("-3.000"), 2, 1, 6),
            (date(2011, 3, 16), D("9.990"), D("9.990"), D("0.000"), 1, 1, 1),
        ],
        "invoice_date date, net_revenue decimal(32,3), gross_revenue decimal(32,3), returns decimal(32,3), "
        "orders bigint, customers bigint, units bigint",
    )
    assert_df_equality(gold(silver)["revenue_daily"], expected, ignore_row_order=True, ignore_nullable=True)


def test_every_period_table_has_its_keys_and_the_measures(spark):
    silver = silver_lines(
        spark,
        silver_line(ts="2010-12-31 10:00:00", unit_price="1.00"),
        silver_line(ts="2011-01-01 10:00:00", unit_price="2.00"),  # same ISO week (Mon 27 Dec), new year
        silver_line(ts="2011-04-01 10:00:00", unit_price="4.00"),
    )
    tables = gold(silver)
    for name, keys in REVENUE_TABLES.items():
        assert tables[name].columns == [*keys, *REVENUE_MEASURES]
    weekly = {r.week_start: r.net_revenue for r in tables["revenue_weekly"].collect()}
    assert weekly == {date(2010, 12, 27): D("3.000"), date(2011, 3, 28): D("4.000")}
    quarterly = {(r.year, r.quarter): r.net_revenue for r in tables["revenue_quarterly"].collect()}
    assert quarterly == {(2010, 4): D("1.000"), (2011, 1): D("2.000"), (2011, 2): D("4.000")}
    monthly = {(r.year, r.month): r.orders for r in tables["revenue_monthly"].collect()}
    assert monthly == {(2010, 12): 1, (2011, 1): 1, (2011, 4): 1}


def top(spark, *rows):
    return gold(silver_lines(spark, *rows))["top_products_by_season"]


def test_top_products_rank_by_units_then_revenue_then_code(spark):
    spring = "2011-04-01 10:00:00"
    out = top(
        spark,
        silver_line(stock_code="22423", quantity=5, unit_price="1.00", ts=spring, description="BEE"),
        silver_line(stock_code="22422", quantity=5, unit_price="1.00", ts=spring, description="AY"),
        silver_line(stock_code="47566", quantity=5, unit_price="2.00", ts=spring, description="SEA"),
        silver_line(stock_code="84879", quantity=9, unit_price="0.10", ts=spring, description="DEE"),
        silver_line(invoice_no="C9", stock_code="84879", quantity=-3, unit_price="0.10", ts=spring, description="DEE"),
        *[silver_line(stock_code=c, quantity=99, unit_price="18.00", ts=spring) for c in ("POST", "D", "B", "M")],
        silver_line(stock_code="GIFT_0001_10", quantity=99, unit_price="8.00", ts=spring, description="VOUCHER"),
    )
    # 84879: 9 - 3 = 6 net units beats the 5s; 47566 wins the 5s on revenue; 22422 beats 22423 on code.
    expected = spark.createDataFrame(
        [
            (2011, "Spring", 1, "84879", "DEE", 6, D("0.600")),
            (2011, "Spring", 2, "47566", "SEA", 5, D("10.000")),
            (2011, "Spring", 3, "22422", "AY", 5, D("5.000")),
            (2011, "Spring", 4, "22423", "BEE", 5, D("5.000")),
        ],
        "season_year int, season string, rank int, stock_code string, description string, units_net bigint, "
        "revenue_net decimal(32,3)",
    )
    assert out.columns == list(TOP_PRODUCTS_COLUMNS)
    assert_df_equality(out.orderBy("rank"), expected.orderBy("rank"), ignore_nullable=True)


def test_top_products_are_ten_per_season_and_winter_spans_december(spark):
    rows = [silver_line(stock_code=f"P{i:02d}", quantity=100 - i, ts="2010-12-05 10:00:00") for i in range(12)]
    rows += [silver_line(stock_code="LATE", quantity=1000, ts="2011-02-01 10:00:00")]
    out = top(spark, *rows)
    assert [(r.season_year, r.season, r.rank, r.stock_code) for r in out.orderBy("rank").collect()][:3] == [
        (2011, "Winter", 1, "LATE"),
        (2011, "Winter", 2, "P00"),
        (2011, "Winter", 3, "P01"),
    ]
    assert out.count() == 10


def test_description_is_the_most_frequent_known_one_ties_alphabetical(spark):
    autumn = "2011-10-10 10:00:00"
    out = top(
        spark,
        *[
            silver_line(stock_code="10002", description=d, ts=autumn)
            for d in ("unknown", "unknown", "unknown", "ZED", "ALPHA")
        ],
        *[silver_line(stock_code="10080", description=d, ts=autumn) for d in ("OLD NAME", "NEW NAME", "NEW NAME")],
        silver_line(stock_code="10120", description="unknown", ts=autumn),
    )
    names = {r.stock_code: r.description for r in out.collect()}
    assert names == {"10002": "ALPHA", "10080": "NEW NAME", "10120": "unknown"}
