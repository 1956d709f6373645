"""`ecom-etl sql`: ad-hoc SQL over the lake tables by name."""

import json

import pytest

from ecom_etl import cli


@pytest.fixture(autouse=True)
def _cli_on_the_sessions_emulator(monkeypatch, emulator_url):
    """A command run in the tests' process reuses their SparkSession, which is on the emulator's S3."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator_url)


def sql(capsys, lake, query, *extra) -> tuple[int, str, str]:
    code = cli.main(["sql", query, "--warehouse", lake.root, *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_tables_are_queried_by_name_in_every_format(spark, capsys, loaded):
    """`ecom-etl sql` finds every table by name and prints each output format."""
    summary, lake = loaded
    code, out, _ = sql(capsys, lake, "SELECT count(*) AS n FROM order_lines", "--format", "json")
    assert code == 0 and json.loads(out) == {"n": summary.silver_rows}
    december = spark.read.format("delta").load(lake.gold("revenue_monthly")).where("year = 2010 AND month = 12").first()
    code, out, _ = sql(
        capsys, lake, "SELECT year, month, orders FROM revenue_monthly ORDER BY year, month LIMIT 2", "--format", "csv"
    )
    assert code == 0 and out.splitlines()[0] == "year,month,orders"
    assert out.splitlines()[1] == f"2010,12,{december.orders}" and len(out.splitlines()) == 3
    code, out, _ = sql(
        capsys, lake, "SELECT season, count(*) AS n FROM top_products_by_season GROUP BY season ORDER BY season"
    )
    assert code == 0 and out.splitlines()[0].split() == ["season", "|", "n"] and out.strip().endswith("(4 rows)")


@pytest.mark.slow
def test_money_sums_are_exact_across_tables(capsys, loaded):
    """Money summed by SQL across tables stays an exact decimal."""
    _, lake = loaded
    query = (
        "SELECT (SELECT sum(net_revenue) FROM revenue_quarterly) = (SELECT sum(line_amount) FROM order_lines) AS same"
    )
    assert json.loads(sql(capsys, lake, query, "--format", "json")[1]) == {"same": True}


@pytest.mark.slow
def test_an_unknown_table_or_a_bad_query_is_one_clear_line(capsys, loaded):
    """A query Spark refuses is one line and exit 2."""
    _, lake = loaded
    code, _, err = sql(capsys, lake, "SELECT * FROM sales")
    assert code == 2 and err.strip().splitlines() == [err.strip()]
    assert "sales" in err and "the tables are:" in err and "revenue_monthly" in err
    code, _, err = sql(capsys, lake, "SELEC 1")
    assert (
        code == 2 and err.startswith("ecom-etl: error: SQL syntax error") and err.strip().splitlines() == [err.strip()]
    )


@pytest.mark.slow
def test_several_queries_run_in_one_spark(capsys, loaded):
    """Several statements share one Spark session."""
    _, lake = loaded
    code = cli.main(["sql", "SELECT 1 AS a", "SELECT 2 AS b", "--warehouse", lake.root, "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0 and out.split("\n\n") == ["a\n1", "b\n2\n"]


@pytest.mark.slow
def test_statements_are_read_from_standard_input(capsys, monkeypatch, loaded):
    """Statements can come from standard input."""
    import io

    _, lake = loaded
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT 1 AS a;\nSELECT 'x;y' AS b\n;"))
    assert cli.main(["sql", "--warehouse", lake.root, "--format", "csv"]) == 0
    assert capsys.readouterr().out.split("\n\n") == ["a\n1", "b\nx;y\n"]


def test_an_empty_warehouse_says_what_to_do(capsys, spark, tmp_path):
    from ecom_etl.lake.layout import Lake

    code, _, err = sql(capsys, Lake.at(str(tmp_path)), "SELECT 1")
    assert code == 2 and "run `ecom-etl batch` first" in err
