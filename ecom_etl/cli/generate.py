"""`ecom-etl generate`: synthetic order lines."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common
from ecom_etl.errors import EtlInputError
from ecom_etl.local.generate import BUILTIN_SEED, generate_folder


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write synthetic order lines, one CSV per day",
        description="Write realistic synthetic order lines (missing customers, cancellations, zero prices, "
        "exact duplicates, both date formats, a few broken rows, seasonality) as OUT/<day>.csv. "
        "The same seed always gives the same files.",
    )
    p.add_argument("--rows", type=int, required=True, help="number of order lines (duplicates come on top, ≈1 %%)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=BUILTIN_SEED, help="random seed (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.rows <= 0:
        raise EtlInputError("--rows must be positive")
    generate_folder(
        common.session(common.settings(args), "ecom-etl generate"), args.rows, args.out, args.seed, common.progress
    )
    return 0
