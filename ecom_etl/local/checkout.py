"""The checkout this package runs from: the template, the job scripts and the Java sources.

Only local tooling (deploy, the local Glue runs, building the jar) reads it; the wheel that Glue
and Lambda run carries none of it.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = ROOT / "infra" / "cloudformation"
JOBS = ROOT / "jobs"
JAVA = ROOT / "java"
