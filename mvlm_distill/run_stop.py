"""The line a run stopped by a signal ends with.

On SIGTERM Snakemake lets its running jobs finish and stops, on Ctrl-C (SIGINT) it cancels them;
either way it then calls the ``onerror`` hook and ends with "At least one job did not complete
successfully", as if a job had failed. The ``onstart`` hook calls :func:`watch_stop_signals`
(Snakemake's own handlers are installed by then; each is kept and still called) and the ``onerror``
hook calls :func:`exit_if_stopped`, which says what happened in one line and exits with 128 + the
signal's number (the shell's convention for a stop by a signal) before that message.
"""

from __future__ import annotations

import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[signal.Signals] = []


def watch_stop_signals(signals=STOP_SIGNALS) -> None:
    """Remember the first stop signal the run gets; the handlers in place go on doing their work."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers (Snakemake's --gui mode runs elsewhere)
    for sig in signals:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # SIG_DFL or SIG_IGN: no Snakemake stop to report

        def handler(signum, frame, previous=previous):
            _received.append(signal.Signals(signum))
            previous(signum, frame)

        signal.signal(sig, handler)


def stop_message(log: str | None = None) -> str | None:
    """One sentence on the stop, or None if no stop signal arrived."""
    if not _received:
        return None
    where = f" (log: {log})" if log else ""
    return (
        f"Run stopped by {_received[0].name}{where}: jobs that finished are kept and jobs it interrupted run "
        "again (distill resumes from its checkpoint); rerun the same command to continue."
    )


def exit_if_stopped(log: str | None = None) -> None:
    """In ``onerror``: after a stop signal, print the stop line and exit 128 + its number."""
    message = stop_message(log)
    if message:
        print(message, file=sys.stderr)
        raise SystemExit(128 + _received[0])
