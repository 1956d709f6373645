"""The CloudFormation templates under infra/cloudformation, read as data.

The local job runner and the consistency tests read the same template that deploys, so the Glue
jobs' scripts and arguments cannot drift between AWS and a laptop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ecom_etl.errors import EtlInputError
from ecom_etl.local.checkout import TEMPLATE_DIR

PLATFORM_TEMPLATE = TEMPLATE_DIR / "platform.yaml"
ARTIFACTS_TEMPLATE = TEMPLATE_DIR / "artifacts.yaml"


class _Tag(dict):
    """A short-form intrinsic (!Ref, !Sub, ...) kept as its long form {"Fn::X": value}."""


def _constructor(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], _Tag]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> _Tag:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return _Tag({name: value})

    return construct


class _Loader(yaml.SafeLoader):
    pass


for _short in ("Ref", "Condition"):
    _Loader.add_constructor(f"!{_short}", _constructor(_short))
for _short in (
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
):
    _Loader.add_constructor(f"!{_short}", _constructor(f"Fn::{_short}"))


def load(path: Path = PLATFORM_TEMPLATE) -> dict:
    if not path.is_file():
        raise EtlInputError(f"template not found: {path} (run from a source checkout of ecom_etl)")
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_}


@dataclass(frozen=True)
class Resolver:
    """Evaluates the intrinsics of a template value with given values for Refs and GetAtts."""

    refs: dict[str, str]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._ref(".".join(arg))
            if key == "Fn::Sub":
                return self._sub(arg)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _ref(self, name: str) -> str:
        if name not in self.refs:
            raise EtlInputError(f"the template refers to {name}, which has no local value")
        return self.refs[name]

    def _sub(self, text: str) -> str:
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out += [before, self._ref(name)]
        return "".join(out) + rest


def parameter_defaults(template: dict) -> dict[str, str]:
    return {name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p}


def glue_job(template: dict, job_name: str) -> tuple[str, dict]:
    """The Glue job resource a name means: its logical id, its Name with any stack prefix
    (`ecom-batch`), or its Name's suffix (`batch`)."""
    jobs = resources(template, "AWS::Glue::Job")
    for logical_id, job in jobs.items():
        name = job["Properties"].get("Name")
        suffix = name["Fn::Sub"].split("}-", 1)[-1] if isinstance(name, dict) and "Fn::Sub" in name else str(name)
        if job_name in (logical_id, suffix) or job_name.endswith(f"-{suffix}"):
            return logical_id, job
    known = ", ".join(sorted(jobs))
    raise EtlInputError(f"no Glue job {job_name!r} in {PLATFORM_TEMPLATE.name} (jobs: {known})")


def default_arguments(job_name: str, names: Iterable[str]) -> dict[str, str]:
    """The Glue job's DefaultArguments `names` (without "--"), its Refs to parameters resolved to their
    defaults: what a local run takes when not told otherwise, as the deployed job does."""
    tpl = load()
    _, job = glue_job(tpl, job_name)
    resolve = Resolver(parameter_defaults(tpl))
    arguments = job["Properties"].get("DefaultArguments", {})
    return {name: str(resolve(arguments[f"--{name}"])) for name in names if f"--{name}" in arguments}
