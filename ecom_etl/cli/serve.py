"""`ecom-etl serve`: the order API's handlers on 127.0.0.1."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the order API on 127.0.0.1 (the Lambda handlers)",
        description="POST /orders, GET /customers/{id}/invoices, GET /invoices/{invoice_no}: the same Lambda "
        "handlers as on AWS, called with API Gateway proxy events.",
    )
    p.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    common.add_aws_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.api.server import make_server

    server = make_server(common.settings(args), args.port)
    common.progress(f"serving the order API on http://127.0.0.1:{server.server_port} (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
