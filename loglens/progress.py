"""A small terminal progress bar for long work (downloads, readiness waits, replays).

It writes to stderr, redraws in place on a TTY and falls back to a line every few
seconds when output goes to a file or CI log, so a person can follow either way.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


def _human(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}T"


class Progress:
    """Counts done/total and prints a bar with rate and ETA.

    ``total`` may be ``None`` when the amount of work is unknown (a spinner-like count).
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        unit: str = "items",
        stream: TextIO | None = None,
        min_interval: float = 0.2,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.done: float = 0
        self.enabled = enabled
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # Non-TTY output (CI logs) gets a line at most every few seconds.
        self._min_interval = min_interval if self._tty else 5.0

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(ok=exc is None)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    @property
    def rate(self) -> float:
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: float = 1) -> None:
        self.done += n
        self._draw()

    def set(self, done: float, total: float | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self._draw()

    def render(self) -> str:
        rate = self.rate
        if self.total:
            frac = min(1.0, self.done / self.total)
            width = 30
            filled = int(frac * width)
            bar = "#" * filled + "-" * (width - filled)
            remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
            eta = f"{remaining:5.0f}s" if remaining == remaining else "    ?"
            return (
                f"{self.label} [{bar}] {frac * 100:5.1f}% "
                f"{_human(self.done)}/{_human(self.total)} {self.unit} "
                f"{_human(rate)}/s eta {eta}"
            )
        return f"{self.label} {_human(self.done)} {self.unit} {_human(rate)}/s {self.elapsed:.0f}s"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        line = self.render()
        if self._tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, ok: bool = True) -> None:
        if not self.enabled:
            return
        line = self.render() + (" done" if ok else " FAILED")
        if self._tty:
            self.stream.write("\r\x1b[2K" + line + "\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
