"""Everything a run is configured by, read from arguments and the environment once, then passed on.

The only module that reads `os.environ`: every other module receives a Settings (or SparkSettings)
object. A Settings is a frozen, picklable value, so Spark's Python workers get the driver's
endpoint, region and names with the function they run, not through inherited variables.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEFAULT_REGION = "us-east-1"
EMULATOR_CREDENTIALS = ("testing", "testing")  # an emulator takes any; a laptop may have none
# Environment variable -> Settings field (the Lambda functions and Glue jobs get the same names).
ENVIRONMENT = {
    "AWS_ENDPOINT_URL": "endpoint_url",
    "STREAM_NAME": "stream",
    "CUSTOMERS_TABLE": "customers_table",
    "INVOICES_TABLE": "invoices_table",
    "DELTA_LOG_TABLE": "delta_log_table",
}


@dataclass(frozen=True)
class Settings:
    """Where the platform's AWS resources are, and what they are called (the template's names for
    stack `ecom`). `endpoint_url` points every client, boto3 or Spark's, at an emulator."""

    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    stream: str = "ecom-orders"
    customers_table: str = "ecom-customers"
    invoices_table: str = "ecom-invoices"
    delta_log_table: str = "ecom-delta-log"
    credentials: tuple[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Settings:
        """Settings from the environment, overridden by the arguments that are not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {name: env[var] for var, name in ENVIRONMENT.items() if env.get(var)}
        values["region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        values.update({k: v for k, v in given.items() if v is not None})
        if values.get("endpoint_url") and not env.get("AWS_ACCESS_KEY_ID"):
            values.setdefault("credentials", EMULATOR_CREDENTIALS)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def at(self, endpoint_url: str | None) -> Settings:
        """The same names against another endpoint (an emulator takes any credentials)."""
        credentials = self.credentials or (EMULATOR_CREDENTIALS if endpoint_url else None)
        return replace(self, endpoint_url=endpoint_url, credentials=credentials)

    def named(self, **names: str) -> Settings:
        return replace(self, **names)

    def client(self, service: str) -> Any:
        """A boto3 client with standard-mode retries, the one retry policy of every AWS call; one per
        service and endpoint for the process, as Lambda's guidance has it (building one is about
        0.1 s of CPU, and a client is thread-safe)."""
        return _client(service, self.region, self.credentials, self.endpoint_url)

    def resource(self, service: str) -> Any:
        """A boto3 resource of its own session: resources and the default session are not thread-safe,
        and the DynamoDB sink writes from several threads."""
        return _session(self.region, self.credentials).resource(service, **_options(self.endpoint_url))


def _session(region: str, credentials: tuple[str, str] | None) -> Any:
    import boto3

    keys = dict(zip(("aws_access_key_id", "aws_secret_access_key"), credentials or ()))
    return boto3.session.Session(region_name=region, **keys)


def _options(endpoint_url: str | None) -> dict[str, Any]:
    from botocore.config import Config

    config = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=64)  # the API serves threads
    return {"config": config, **({"endpoint_url": endpoint_url} if endpoint_url else {})}


@functools.lru_cache(maxsize=64)
def _client(service: str, region: str, credentials: tuple[str, str] | None, endpoint_url: str | None) -> Any:
    return _session(region, credentials).client(service, **_options(endpoint_url))


@dataclass(frozen=True)
class SparkSettings:
    """The local SparkSession's knobs (ECOM_ETL_*); Glue sets its own."""

    master: str = "local[2]"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    ui: bool = False
    log4j: str | None = None
    verbose: bool = False  # Ivy's resolution report and Spark's own warnings

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: Any) -> SparkSettings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "master": env.get("ECOM_ETL_MASTER") or cls.master,
            "driver_memory": env.get("ECOM_ETL_DRIVER_MEMORY") or cls.driver_memory,
            "shuffle_partitions": int(env.get("ECOM_ETL_SHUFFLE_PARTITIONS") or cls.shuffle_partitions),
            "ui": env.get("ECOM_ETL_SPARK_UI", "0") == "1",
            "log4j": env.get("ECOM_ETL_LOG4J") or None,
            "verbose": env.get("ECOM_ETL_VERBOSE", "0") == "1",
        }
        values.update({k: v for k, v in given.items() if v is not None})
        return cls(**values)


def debug_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """ECOM_ETL_DEBUG=1: print the full trace of an unexpected failure."""
    return (os.environ if environ is None else environ).get("ECOM_ETL_DEBUG") == "1"


def runtime_override(environ: Mapping[str, str] | None = None) -> str:
    """ECOM_ETL_RUNTIME=glue|local forces the runtime guess (see runtime.session.on_glue)."""
    return (os.environ if environ is None else environ).get("ECOM_ETL_RUNTIME", "").lower()


def spark_home(environ: Mapping[str, str] | None = None) -> str | None:
    return (os.environ if environ is None else environ).get("SPARK_HOME")


def environment_with(**variables: str) -> dict[str, str]:
    """This process's environment plus `variables`, for a child process."""
    return {**os.environ, **variables}


def child_environment(python: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a spark-submit child: this interpreter's bin first on PATH, and Spark's
    Python workers running this interpreter (where ecom_etl is installed)."""
    env = dict(os.environ if environ is None else environ)
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
    env["PYSPARK_PYTHON"] = python
    return env
