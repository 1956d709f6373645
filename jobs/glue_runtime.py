"""The Glue side of the runtime seam, shared by the job scripts (ship it with --extra-py-files).

On Glue: getResolvedOptions, GlueContext and Job.init/commit. Elsewhere (spark-submit, a laptop):
argparse with Glue's `--NAME value` convention and the library's local SparkSession. Which one is
decided from the runtime (ecom_etl.runtime.session.on_glue), not from whether `awsglue` imports.
"""

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from pyspark.sql import SparkSession

from ecom_etl.runtime import session
from ecom_etl.settings import Settings


def resolve_args(argv: list[str], required: list[str], optional: dict[str, str]) -> dict[str, str]:
    """Job arguments by name, Glue style: `--NAME value` or `--NAME=value`, JOB_NAME included.

    Optional arguments take their default when absent (getResolvedOptions alone has no optionals).
    Arguments Glue adds on its own (--JOB_ID, --TempDir, ...) are ignored.
    """
    if session.on_glue(argv):
        from awsglue.utils import getResolvedOptions

        present = [name for name in optional if any(a == f"--{name}" or a.startswith(f"--{name}=") for a in argv)]
        return {**optional, **getResolvedOptions(argv, required + present)}
    parser = argparse.ArgumentParser(prog=argv[0] if argv else None, allow_abbrev=False)
    for name in required:
        parser.add_argument(f"--{name}", required=True)
    for name, default in optional.items():
        parser.add_argument(f"--{name}", default=default)
    known, _ignored = parser.parse_known_args(argv[1:])
    return vars(known)


class JobRun(NamedTuple):
    spark: SparkSession
    glue_context: object | None  # awsglue.context.GlueContext on Glue, None elsewhere
    has_catalog: bool  # the Glue Data Catalog (on Glue, or the emulator's locally)


@contextmanager
def job_session(args: dict[str, str], argv: list[str], settings: Settings) -> Iterator[JobRun]:
    """The SparkSession (and GlueContext) of this job run; on Glue the Job is committed when the
    body succeeds."""
    if not session.on_glue(argv):
        spark = session.local_session(settings, args.get("JOB_NAME") or "ecom-etl-job")
        yield JobRun(spark, None, bool(settings.endpoint_url))
        return
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    yield JobRun(session.configure(glue_context.spark_session), glue_context, True)
    job.commit()


def exit_on_known_error(main: Callable[[], int]) -> None:
    """Run `main()`; a known failure ends the job with one line on stderr: exit code 2 for bad input,
    1 for a lake that refused a write (or another known failure)."""
    from ecom_etl.errors import EtlError, EtlInputError, explain

    try:
        sys.exit(main())
    except EtlError as exc:
        print(f"{argv0()}: error: {exc}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, EtlInputError) else 1)
    except Exception as exc:
        known = explain(exc)
        if known is None:
            raise
        print(f"{argv0()}: error: {known}", file=sys.stderr)
        sys.exit(2 if isinstance(known, EtlInputError) else 1)


def argv0() -> str:
    return sys.argv[0].rsplit("/", 1)[-1] if sys.argv else "job"
