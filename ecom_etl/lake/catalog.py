"""The lake's tables in the Glue Data Catalog: the one place they are registered.

Each table is an external table over its Delta location with the parameters Athena needs to read
it as a native Delta table (`table_type=DELTA`, `spark.sql.sources.provider=delta`) and its
columns from the Delta schema. The same calls go to the emulator locally.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from ecom_etl.lake import delta
from ecom_etl.lake.layout import Lake
from ecom_etl.settings import Settings

DELTA_PARAMETERS = {
    "EXTERNAL": "TRUE",
    "table_type": "DELTA",
    "spark.sql.sources.provider": "delta",
    "classification": "delta",
}


def table_input(spark: SparkSession, name: str, location: str) -> dict:
    schema = spark.read.format("delta").load(location).schema
    columns = [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields]
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": DELTA_PARAMETERS,
        "StorageDescriptor": {
            "Location": location,
            "Columns": columns,
            "SerdeInfo": {"Parameters": {"path": location, "serialization.format": "1"}},
        },
    }


def register_tables(spark: SparkSession, settings: Settings, database: str, lake: Lake) -> list[str]:
    """Create or update every existing lake table in `database`; returns their qualified names."""
    glue = settings.client("glue")
    try:
        glue.get_database(Name=database)  # made by the template on AWS; by the first run on a laptop
    except glue.exceptions.EntityNotFoundException:
        try:
            glue.create_database(DatabaseInput={"Name": database, "Description": "ecom_etl lake"})
        except glue.exceptions.AlreadyExistsException:
            pass  # another run on this lake made it first
    names = []
    for name, location in lake.tables().items():
        if not delta.exists(spark, location):
            continue
        table = table_input(spark, name, location)
        try:
            glue.create_table(DatabaseName=database, TableInput=table)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=database, TableInput=table)
        names.append(f"{database}.{name}")
    return names
