"""Progress lines for long jobs (embedding, caches, scoring) and the distillation bar's refresh interval.

A job's log gets a line such as ``text embeddings: 120,000/480,000 texts (25%), 410.2 texts/s,
about 14m 38s left`` when both :data:`PROGRESS_SECONDS` have passed and :data:`PROGRESS_FRACTION` of the
work was done since the last line (whichever comes later), and one closing line with the total time
and rate. The encoders (``distill.encode``) and ``evaluate.pipeline.score_row_language`` log under a
default label, so the jobs' scripts need no change (a changed script would rerun its jobs); a label
of None keeps them quiet.
"""

from __future__ import annotations

import math
import time

#: a progress line at most this often (seconds); also the distillation bar's refresh interval
PROGRESS_SECONDS = 30.0
#: and only after at least this fraction of the work since the last line
PROGRESS_FRACTION = 0.10


def duration(seconds: float) -> str:
    """``2h 05m``, ``4m 10s``, ``12s`` (``?`` when unknown)."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(max(0.0, seconds)))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def _print(line: str) -> None:
    print(line, flush=True)


class ProgressLog:
    """Counts work done towards ``total`` and writes a progress line at the module's interval.

    ``clock`` (seconds, monotonic) and ``write`` are injectable; ``update(n)`` after each batch,
    ``finish()`` at the end.
    """

    def __init__(self, what: str, total: int, unit: str = "items", *, clock=time.monotonic, write=_print,
                 seconds: float = PROGRESS_SECONDS, fraction: float = PROGRESS_FRACTION):
        self.what, self.total, self.unit = what, int(total), unit
        self.clock, self.write, self.seconds, self.fraction = clock, write, seconds, fraction
        self.start = self.last_time = clock()
        self.done = self.last_done = 0

    def rate(self, now: float) -> float:
        elapsed = now - self.start
        return self.done / elapsed if elapsed > 0 else math.inf

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        now = self.clock()
        if (self.done < self.total and now - self.last_time >= self.seconds
                and self.done - self.last_done >= self.fraction * self.total):
            self.write(self.line(now))
            self.last_time, self.last_done = now, self.done

    def line(self, now: float) -> str:
        rate = self.rate(now)
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        share = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.what}: {self.done:,}/{self.total:,} {self.unit} ({share:.0f}%), {rate:,.1f} {self.unit}/s, "
                f"about {duration(left)} left")

    def finish(self) -> None:
        now = self.clock()
        self.write(f"{self.what}: {self.done:,} {self.unit} in {duration(now - self.start)} "
                   f"({self.rate(now):,.1f} {self.unit}/s)")


class _Quiet:
    """What :func:`progress_log` gives without a label: counts nothing, writes nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


def progress_log(what: str | None, total: int, unit: str = "items"):
    """A :class:`ProgressLog`, or a silent stand-in when ``what`` is None."""
    return ProgressLog(what, total, unit) if what else _Quiet()
