"""Send a workflow script's output to its Snakemake log file."""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path


@contextlib.contextmanager
def log_to(path):
    """Redirect stdout/stderr to ``path``; on failure the traceback goes there and the
    last line (one sentence) also reaches the terminal, so the error is seen without opening the log.
    Every script runs in it, so here a job also starts following its run (it stops when the run's main
    process is gone)."""
    from mvlm_distill.results_folder import stop_with_the_run

    stop_with_the_run()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    real_stderr = sys.stderr
    with open(path, "w", buffering=1, encoding="utf-8") as log:
        sys.stdout = sys.stderr = log
        try:
            yield
        except BaseException as err:
            if isinstance(err, SystemExit) and not err.code:
                raise
            traceback.print_exc(file=log)
            real_stderr.write(f"{type(err).__name__}: {err} (log: {path})\n")
            raise
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, real_stderr
