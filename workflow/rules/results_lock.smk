# One run at a time per results folder, from any clone (mvlm_distill/results_folder.py). Only the planning
# process runs these hooks: jobs (local subprocesses, SLURM) run with --no-hooks, dry runs call none.
import sys
from pathlib import Path

from mvlm_distill import results_folder, run_stop

RESULTS_LOCK = {}


def _refuse(kind, message):
    sys.stderr.write(f"{kind}: {message}\n")
    raise SystemExit(1)


onstart:
    if workflow.is_main_process:
        run_stop.watch_stop_signals()
        try:
            RESULTS_LOCK["path"] = results_folder.acquire_lock(
                R, workdir=Path.cwd()
            )
        except results_folder.ResultsLockError as err:
            _refuse("Results folder in use", err)
        removed = results_folder.remove_stale_temporaries(R)
        if removed:
            print(
                f"Removed {len(removed)} temporary file(s)/folder(s) that killed jobs left under {R}."
            )
        planned = [
            path
            for job in workflow.dag.needrun_jobs()
            for path in [
                *job.output,
                *job.log,
                *([job.benchmark] if job.benchmark else []),
            ]
        ]
        unwritable = results_folder.unwritable_folder(planned)
        if unwritable:
            results_folder.release_lock(RESULTS_LOCK["path"])
            _refuse(
                "Results folder not writable",
                f"{unwritable[0]} is not writable, so {unwritable[1]} cannot be written; make it writable "
                "(chmod u+w) or set results: to a folder you can write.",
            )


onsuccess:
    if "path" in RESULTS_LOCK:
        results_folder.release_lock(RESULTS_LOCK["path"])


onerror:
    if "path" in RESULTS_LOCK:
        results_folder.release_lock(RESULTS_LOCK["path"])
    run_stop.exit_if_stopped(log)
