"""`ecom-etl deploy`: the CloudFormation stacks, created, updated or destroyed."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common
from ecom_etl.errors import EtlInputError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="deploy the platform's CloudFormation stacks (or --destroy them)",
        description="Build the ecom_etl wheel, create or update stack NAME-artifacts (the code bucket), upload "
        "the wheel, jobs/*.py, the Delta log store's jar and the template into it (under a prefix named after "
        "their content), then create or update stack NAME from "
        "infra/cloudformation/platform.yaml through a change set and print its outputs. --destroy deletes "
        "both stacks; the raw and lake buckets and their key are kept (DeletionPolicy Retain).",
        epilog="example: ecom-etl deploy --stack ecom --parameters GlueVersion=6.0 AlarmEmail=ops@example.com",
    )
    p.add_argument("--stack", required=True, help="stack name (resources are named after it)")
    p.add_argument("--parameters", nargs="*", metavar="KEY=VALUE", help="template parameters to set")
    p.add_argument("--destroy", action="store_true", help="delete the stacks instead")
    common.add_aws_options(p, names=False)
    p.set_defaults(run=run)


def parse_parameters(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EtlInputError(f"--parameters: expected Key=Value, got {item!r}")
        params[key] = value
    return params


def run(args: argparse.Namespace) -> int:
    from ecom_etl.local.deploy import deploy, destroy

    settings = common.settings(args)
    poll = 0.5 if settings.endpoint_url else 5.0
    if args.destroy:
        kept = destroy(settings, args.stack, common.progress, poll)
        if kept is None:
            print(f"no stack {args.stack} or {args.stack}-artifacts: nothing to delete")
            return 0
        print(f"deleted stacks {args.stack} and {args.stack}-artifacts")
        for resource in kept:
            print(f"kept (DeletionPolicy Retain): {resource}")
        return 0
    result = deploy(settings, args.stack, parse_parameters(args.parameters), common.progress, poll)
    print(f"stack {result.name}: {result.status}")
    for key, value in sorted(result.outputs.items()):
        print(f"  {key:<22} {value}")
    return 0
