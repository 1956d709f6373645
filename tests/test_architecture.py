"""The package's shape, read from its modules' imports: each wing imports only the wings below it
(its package docstring says which), no import runs back up, and no modules import each other in a
circle. The Glue job scripts import only what Glue runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.one_stack

ROOT = Path(__file__).resolve().parent.parent
SHARED = {"ecom_etl", "ecom_etl.settings", "ecom_etl.errors", "ecom_etl.progress"}
# What each wing may import, besides itself: the floors below it.
MAY_IMPORT = {
    "core": set(),
    "shared": set(),
    "runtime": {"shared"},
    "lake": {"core", "shared"},
    "stream": {"lake", "core", "shared"},
    "api": {"stream", "core", "shared"},
    "report": {"lake", "core", "shared"},
    "local": {"report", "api", "stream", "lake", "runtime", "core", "shared"},
    "cli": {"local", "report", "api", "stream", "lake", "runtime", "core", "shared"},
    # The Glue job scripts: what Glue runs, never the local tooling.
    "jobs": {"stream", "lake", "runtime", "core", "shared"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for p in (ROOT / "ecom_etl").rglob("*.py")}
    found.update({f"jobs.{p.stem}": p for p in (ROOT / "jobs").glob("*.py")})
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that `name` imports anywhere in its body (a function's import too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            # `from package import module` names a module; `from module import name` the module.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        targets += [f"jobs.{t}" for t in targets if f"jobs.{t}" in known]  # the scripts import each other bare
        out.update(t for t in targets if t in known and t != name)
    return out


def wing(name: str) -> str:
    if name in SHARED:
        return "shared"
    if name.startswith("jobs."):
        return "jobs"
    return name.split(".")[1]


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def upward_arrows(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{a} -> {b}"
        for a, targets in edges.items()
        for b in targets
        if wing(b) != wing(a) and wing(b) not in MAY_IMPORT[wing(a)]
    )


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def said_to_import(package: str) -> set[str]:
    """The wings a package's docstring names on its "May import:" line (asides in brackets aside)."""
    doc = ast.get_docstring(ast.parse((ROOT / "ecom_etl" / package / "__init__.py").read_text())) or ""
    (line,) = [line for line in doc.splitlines() if line.startswith("May import:")]
    words = set(re.findall(r"\w+", re.sub(r"\([^)]*\)", "", line)))
    return ({"shared"} if "shared" in words else set()) | (words & set(MAY_IMPORT) - {package})


def test_every_module_belongs_to_a_wing_whose_docstring_says_what_the_test_checks():
    names = modules()
    assert {wing(n) for n in names} <= set(MAY_IMPORT)
    for package in ("core", "runtime", "lake", "stream", "api", "report", "local", "cli"):
        assert said_to_import(package) == MAY_IMPORT[package], package
    top_level = {
        n
        for n in names
        if n.startswith("ecom_etl.") and n.count(".") == 1 and not (ROOT / "ecom_etl" / n.split(".")[1]).is_dir()
    }
    assert top_level == SHARED - {"ecom_etl"}


def test_no_import_runs_up_a_wing_and_none_in_a_circle():
    edges = graph()
    assert sum(map(len, edges.values())) > 100  # the graph was read, not empty
    assert upward_arrows(edges) == []
    assert circles(edges) == []


def test_the_checks_see_an_upward_arrow_and_a_circle():
    edges = graph()
    before = set(upward_arrows(edges))
    edges["ecom_etl.core.cleaning"] = {*edges["ecom_etl.core.cleaning"], "ecom_etl.lake.load"}
    assert set(upward_arrows(edges)) - before == {"ecom_etl.core.cleaning -> ecom_etl.lake.load"}
    assert ["ecom_etl.core.cleaning", "ecom_etl.lake.load"] in circles(edges)
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
