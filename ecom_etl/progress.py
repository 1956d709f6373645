"""Progress output of long work: one line per stage as it starts and ends, on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[str], None]


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quiet(_: str) -> None:
    pass


class StageTimer:
    """Times named stages into `seconds`; with `progress`, reports each as it starts and ends,
    numbered `[n/total]` when the total is known."""

    def __init__(self, progress: Progress | None = None, total: int | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.progress = progress
        self.total = total
        self._started = 0

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self._started += 1
        if self.progress:
            of = f"/{self.total}" if self.total else ""
            self.progress(f"[{self._started}{of}] {name} ...")
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 2)
        if self.progress:
            self.progress(f"      {name}: done in {self.seconds[name]:.1f}s")

    def note(self, message: str) -> None:
        """A line about the stage under way, under its own."""
        if self.progress:
            self.progress(f"      {message}")

    def skip(self, name: str, why: str) -> None:
        """Count a stage that had nothing to do, so the numbers still count up to the total."""
        self._started += 1
        if self.progress:
            of = f"/{self.total}" if self.total else ""
            self.progress(f"[{self._started}{of}] {name}: {why}")
