"""`ecom-etl demo` (`make demo`): the whole platform on this machine."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole platform locally: emulator, batch, stream, dashboard, API",
        description="Start the local AWS emulator, run the batch job on the built-in data, POST a slice of new "
        "order lines to the API and stream them through Kinesis and the streaming job, write the dashboard, "
        "then keep the API and the streaming job running until Ctrl-C (`make demo`, `make demo-stop`).",
    )
    p.add_argument("--warehouse", help="lake root (default: the lake bucket's lake/ on the emulator, as on AWS)")
    p.add_argument("--out", default="report.html", help="dashboard file (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="API port (default: %(default)s)")
    p.add_argument("--emulator-port", type=int, default=4566, help="emulator port (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.local.demo import run_demo

    run_demo(
        args.warehouse,
        args.out,
        args.emulator_port,
        args.port,
        common.progress,
        data_dir=common.BUILTIN_DATA,
        slice_dir=common.DEMO_STREAM_DATA,
        state_dir=common.STATE_DIR,
    )
    return 0
