"""Where `make test`'s time goes: every test's wall time and the CPU of each kind of process under it.

    .venv/bin/python bench/suite_profile.py [--top 25] [pytest arguments ...]

Runs pytest (with the given arguments) while sampling every process's CPU time (psutil) twice a
second, and charges each sample to the test running at the time. The kinds: the pytest process
(Python), the session's JVM (its child), the emulator (moto's server), the Python workers that
Spark starts, and the jobs a test starts in processes of their own (`ecom-etl …`, their JVMs).
Run it on an otherwise idle machine: every process on it is sampled.

To profile another command that runs pytest (e.g. `.ci/run`), sample and record separately:

    export ECOM_SUITE_TIMELINE=/tmp/t.tsv PYTEST_ADDOPTS="-p suite_profile" PYTHONPATH=$PWD/bench
    .venv/bin/python bench/suite_profile.py --sample-to /tmp/s.jsonl &   # until stopped
    .ci/run; kill %1
    .venv/bin/python bench/suite_profile.py --report /tmp/t.tsv /tmp/s.jsonl
"""

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMELINE = "ECOM_SUITE_TIMELINE"
KINDS = ("pytest", "session JVM", "emulator", "Spark's Python workers", "job processes", "other")


# pytest plugin part (loaded in the pytest process with -p suite_profile): test start and end times.
def pytest_runtest_logstart(nodeid, location):
    _mark("start", nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _mark("end", nodeid)


def _mark(event: str, nodeid: str) -> None:
    with open(os.environ[TIMELINE], "a", encoding="utf-8") as fh:
        fh.write(f"{time.monotonic()}\t{event}\t{nodeid} (Python {sys.version_info[0]}.{sys.version_info[1]})\n")


# Sampler part.
def processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds so far, command line)."""
    out = {}
    for proc in psutil.process_iter(["ppid", "cpu_times", "cmdline"]):
        info = proc.info
        if info["cpu_times"] is not None:  # gone, or not ours to read
            cpu = info["cpu_times"].user + info["cpu_times"].system
            out[proc.pid] = (info["ppid"], cpu, " ".join(info["cmdline"] or ()))
    return out


def is_pytest(cmd: str) -> bool:
    return " -m pytest" in cmd or "/pytest " in cmd


def kind(pid: int, table: dict[int, tuple[int, float, str]]) -> str:
    parent, _, cmd = table[pid]
    if is_pytest(cmd):
        return "pytest"
    if "ecom_etl.local.emulator" in cmd:
        return "emulator"
    if "pyspark.daemon" in cmd or "pyspark/daemon" in cmd or "pyspark.worker" in cmd:
        return "Spark's Python workers"
    if parent in table and is_pytest(table[parent][2]) and "java" in cmd:
        return "session JVM"
    return "job processes" if "java" in cmd or "ecom_etl" in cmd or "spark" in cmd else "other"


def sample(emit, stop: threading.Event) -> None:
    """emit(time, {kind: CPU seconds since the last sample}) twice a second until `stop` is set."""
    last = {pid: cpu for pid, (_, cpu, _) in processes().items()}  # what ran before is not the suite's
    while not stop.is_set():
        table = processes()
        now = time.monotonic()
        spent = collections.Counter()
        for pid, (_, cpu, _) in table.items():
            spent[kind(pid, table)] += cpu - last.get(pid, 0.0)
            last[pid] = cpu
        emit(now, spent)
        stop.wait(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=25, help="how many of the slowest tests to list")
    parser.add_argument("--sample-to", metavar="FILE", help="only sample, into FILE, until stopped")
    parser.add_argument("--report", nargs=2, metavar=("TIMELINE", "SAMPLES"), help="only report")
    args, pytest_args = parser.parse_known_args()
    if args.sample_to:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with open(args.sample_to, "a", encoding="utf-8") as out:
            sample(lambda at, spent: out.write(json.dumps([at, spent]) + "\n") or out.flush(), threading.Event())
    if args.report:
        with open(args.report[1], encoding="utf-8") as fh:
            samples = [tuple(json.loads(line)) for line in fh if line.strip()]
        print(report(args.report[0], [(at, collections.Counter(c)) for at, c in samples], None, args.top))
        return
    timeline = tempfile.NamedTemporaryFile(prefix="ecom-suite-", suffix=".tsv", delete=False).name  # noqa: SIM115
    path = os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, TIMELINE: timeline, "PYTHONPATH": path}
    started = time.monotonic()
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "suite_profile", *pytest_args], cwd=ROOT, env=env)
    samples: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(lambda *s: samples.append(s), stop), daemon=True)
    sampler.start()
    code = run.wait()
    stop.set()
    sampler.join()
    print(report(timeline, samples, time.monotonic() - started, args.top))
    os.unlink(timeline)
    sys.exit(code)


def report(timeline: str, samples: list, wall: float | None, top: int) -> str:
    tests: dict[str, list[float]] = {}
    with open(timeline, encoding="utf-8") as fh:
        for line in fh:
            at, event, nodeid = line.rstrip("\n").split("\t")
            tests.setdefault(nodeid, [0.0, 0.0])[event == "end"] = float(at)
    tests = {n: span for n, span in tests.items() if span[1] >= span[0] > 0}  # ended (a run may be under way)
    per_test = {n: collections.Counter() for n in tests}
    totals = collections.Counter()
    spans = sorted((start, end, n) for n, (start, end) in tests.items())
    for at, spent in samples:
        totals.update(spent)
        for start, end, nodeid in spans:  # the sample's interval ends at `at`: charge the test running then
            if start <= at <= end + 0.5:
                per_test[nodeid].update(spent)
                break
    cpu = sum(totals.values())
    wall = wall or samples[-1][0] - samples[0][0]
    in_tests = sum(end - start for start, end in tests.values())
    lines = [
        f"{len(tests)} tests, {in_tests:.0f} s in tests, {wall:.0f} s sampled; "
        f"CPU {cpu:.0f} s (of {2 * wall:.0f} on 2 cores)",
        "",
        "| process | CPU s | share |",
        "|---|---:|---:|",
        *(f"| {k} | {totals[k]:.0f} | {totals[k] / cpu:.0%} |" for k in KINDS if totals[k]),
        "",
        "By module (wall s, CPU s by process):",
        "",
        "| module | tests | wall s | " + " | ".join(KINDS[:-1]) + " |",
        "|---|---:|---:|" + "---:|" * (len(KINDS) - 1),
    ]
    modules: dict[str, list] = {}
    for nodeid, (start, end) in tests.items():
        leg = nodeid[nodeid.rindex(" (") :]
        entry = modules.setdefault(nodeid.split("::")[0] + leg, [0, 0.0, collections.Counter()])
        entry[0] += 1
        entry[1] += end - start
        entry[2].update(per_test[nodeid])
    for name, (count, seconds, spent) in sorted(modules.items(), key=lambda m: -m[1][1]):
        cells = " | ".join(f"{spent[k]:.0f}" for k in KINDS[:-1])
        lines.append(f"| `{name.removeprefix('tests/')}` | {count} | {seconds:.0f} | {cells} |")
    lines += [
        "",
        f"The {top} slowest tests (wall s, CPU s by process):",
        "",
        "| test | wall s | " + " | ".join(KINDS[:-1]) + " |",
        "|---|---:|" + "---:|" * (len(KINDS) - 1),
    ]
    slowest = sorted(tests, key=lambda n: tests[n][1] - tests[n][0], reverse=True)[:top]
    for nodeid in slowest:
        start, end = tests[nodeid]
        cells = " | ".join(f"{per_test[nodeid][k]:.0f}" for k in KINDS[:-1])
        lines.append(f"| `{nodeid.removeprefix('tests/')}` | {end - start:.1f} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
