"""boto3 clients for AWS or a local emulator, and the platform's resource names.

A local endpoint is given the way the AWS CLI takes it: AWS_ENDPOINT_URL (or --endpoint-url, which
sets it). Spark's Python workers inherit it, so executors reach the same emulator.
"""

import os
from dataclasses import dataclass

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Names:
    """Names of the streaming resources (CloudFormation passes the same through job arguments)."""

    stream: str = "ecom-orders"
    customers_table: str = "ecom-customers"
    invoices_table: str = "ecom-invoices"


def use_endpoint(endpoint_url: str | None) -> None:
    """Point every client of this process and its children at `endpoint_url` (an emulator)."""
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        # An emulator takes any credentials; a laptop may have none configured.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)


_SHIPPED = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION")
_EMULATOR_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def worker_settings() -> dict[str, str]:
    """The driver's endpoint and region, to apply in Spark's Python workers (their environment
    was fixed when Spark started). Credentials travel only with an emulator endpoint: on AWS the
    workers have their own role."""
    names = _SHIPPED + (_EMULATOR_CREDENTIALS if os.environ.get("AWS_ENDPOINT_URL") else ())
    return {k: os.environ[k] for k in names if k in os.environ}


def apply_settings(settings: dict[str, str]) -> None:
    os.environ.update(settings)


def client(service: str):
    """A client with retries in standard mode; region from the environment (default us-east-1)."""
    return boto3.client(
        service,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        config=Config(retries={"max_attempts": 8, "mode": "standard"}),
    )
