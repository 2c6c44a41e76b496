"""What a run does to its results folder around its jobs: a lock, stale temporaries, writable folders.

Snakemake's own lock (``.snakemake/locks``) is per working directory, so two clones whose configs point
``results:`` at one folder would both run and delete each other's outputs. The lock here lives in the
results folder itself and is held by the planning process for the whole run (Snakefile ``onstart``,
released by ``onsuccess``/``onerror`` and at exit); jobs never take it.

Jobs can outlive their run: ``kill -9`` of the main process (the out-of-memory killer) leaves its
local jobs and SLURM jobs running. So every job on the main process's host stops itself once that
process is gone (:func:`stop_with_the_run`: SIGTERM, which the trainer turns into a saved checkpoint),
and the lock names the run (a run id every job inherits through the environment, :data:`RUN_ENV`):
a dead holder's lock is only replaced once no process and no SLURM job of that run is alive, so a new
run never starts the same jobs beside them and never deletes what they are writing.
"""

from __future__ import annotations

import atexit
import datetime
import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from mvlm_distill.io import TEMP_MARK, disk_full_error

LOCK_FILE = ".mvlm-distill.lock"
# Set in the planning process when it takes the lock; local jobs and SLURM jobs (sbatch --export=ALL) inherit it.
RUN_ENV = "MVLM_DISTILL_RUN"
# "host:pid:start time" of the planning process, for jobs to notice that it is gone (stop_with_the_run)
MAIN_ENV = "MVLM_DISTILL_MAIN"
# The project's temporaries only (mvlm_distill.io.TEMP_MARK): ".{name}.mvlm-tmp" or ".{name}.mvlm-tmp-XXXX[.ext]"
TEMPORARY = re.compile(r"^\..+" + re.escape(TEMP_MARK) + r"(-\w+(\.\w+)?)?$")
# An empty or unreadable lock older than this is what an interrupted write (a full disk) left behind.
TORN_LOCK_SECONDS = 30


class ResultsLockError(RuntimeError):
    """Another run holds the results folder."""


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read_lock(path: Path) -> dict:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _run_processes(run: str) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the live processes on this host that belong to run ``run``."""
    marker = f"{RUN_ENV}={run}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or another user's
            continue
        if int(entry.name) != os.getpid():
            found.append((int(entry.name), command))
    return sorted(found)


# snakemake-executor-plugin-slurm names every job of a run with the run's UUID (optionally prefixed)
# and submits it with the run's working directory (-D).
_SLURM_RUN_NAME = re.compile(r"(^|_)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _slurm_jobs(workdir: str) -> list[str]:
    """Ids of this user's queued or running SLURM jobs submitted by Snakemake from ``workdir``."""
    if not workdir or shutil.which("squeue") is None:
        return []
    try:
        out = subprocess.run(["squeue", "--me", "--noheader", "--format=%i|%j|%Z"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []  # no reachable controller: nothing of this run can be queued there
    jobs = []
    for line in out.splitlines():
        job, name, folder = (line.split("|", 2) + ["", ""])[:3]
        if _SLURM_RUN_NAME.search(name) and folder and Path(folder).resolve() == Path(workdir).resolve():
            jobs.append(job.strip())
    return jobs


def _survivors(holder: dict) -> str | None:
    """What of a dead holder's run still runs (its local job processes, its SLURM jobs), as words, or None."""
    processes = _run_processes(holder["run"]) if holder.get("run") else []
    slurm = _slurm_jobs(holder.get("workdir", ""))
    parts = []
    if processes:
        shown = ", ".join(f"pid {pid} ({command[:60]})" for pid, command in processes[:3])
        parts.append(f"{len(processes)} of its job processes are still running ({shown}"
                     f"{', ...' if len(processes) > 3 else ''}; stop them with kill {' '.join(str(p) for p, _ in processes)})")
    if slurm:
        parts.append(f"{len(slurm)} of its SLURM jobs are still queued or running (cancel them with "
                     f"scancel {' '.join(slurm)})")
    return " and ".join(parts) or None


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), or None if it is not running: with the
    pid it names one process, not a later one that reused the number."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def stop_with_the_run(interval: float = 5.0) -> None:
    """In a job: send this process SIGTERM once its run's planning process is gone (checked every
    ``interval`` seconds), so that no local job outlives its run. Jobs on other hosts (SLURM) keep running:
    the next run waits for them (:func:`acquire_lock`)."""
    main = os.environ.get(MAIN_ENV, "")
    host, _, rest = main.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or _start_time(int(pid)) != start:
        return  # not a job of a run on this host (or its run is over already: nothing to follow)

    def watch():
        while _start_time(int(pid)) == start:
            time.sleep(interval)
        print(f"The run's main Snakemake process (pid {pid}) is gone; stopping this job.", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-the-run", daemon=True).start()


def _describe(holder: dict) -> str:
    return (f"the run of {holder.get('owner', '?')} on {holder.get('host', '?')} (pid {holder.get('pid', '?')}, "
            f"started {holder.get('started', '?')}, from {holder.get('workdir', '?')})")


def acquire_lock(results: str | os.PathLike, workdir: str | os.PathLike = ".") -> Path:
    """Take the lock of ``results`` for this process, or raise :class:`ResultsLockError` naming its holder.

    A lock left by a dead process on this host (a killed run) is stale: it is replaced, with a note on
    stderr. A lock from another host cannot be checked from here; its message says how to clear it.
    Returns the lock file; :func:`release_lock` (also registered at exit) removes it.
    """
    results = Path(results)
    try:
        results.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise disk_full_error(results, err) or err
    path = results / LOCK_FILE
    me = {"owner": getpass.getuser(), "host": socket.gethostname(), "pid": os.getpid(),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "workdir": str(Path(workdir).resolve()), "run": uuid.uuid4().hex}
    for _ in range(3):
        if _create_complete(path, me):
            # before any job starts: every job of this run carries them
            os.environ[RUN_ENV] = me["run"]
            os.environ[MAIN_ENV] = f"{me['host']}:{me['pid']}:{_start_time(me['pid'])}"
            atexit.register(release_lock, path)
            return path
        holder = _read_lock(path)
        if holder.get("host") == me["host"] and holder.get("pid") == me["pid"]:
            return path  # this very process took it already
        if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) \
                and not _pid_running(holder["pid"]):
            survivors = _survivors(holder)
            if survivors:
                raise ResultsLockError(
                    f"{results.resolve()} was held by {_describe(holder)}, which is no longer running, but "
                    f"{survivors}; wait for them to finish or stop them, then run again (finished outputs are kept)."
                )
            print(f"Removed the stale lock {path} of {_describe(holder)}: that process is no longer running.",
                  file=sys.stderr)
            path.unlink(missing_ok=True)
            continue
        if not holder:
            if _age(path) > TORN_LOCK_SECONDS:  # a write cut short (locks are complete since they are linked)
                print(f"Removed the empty or unreadable lock {path} (left by an interrupted write).", file=sys.stderr)
                path.unlink(missing_ok=True)
                continue
            time.sleep(0.5)  # an older version's lock being written this instant: look once more
            continue
        raise ResultsLockError(
            f"{results.resolve()} is in use by {_describe(holder)}; wait for that run to finish, or if it is no longer "
            f"running (killed, or its machine rebooted) delete {path.resolve()} and, in its clone, run "
            f"`snakemake --unlock`."
        )
    raise ResultsLockError(f"{path}: could not be taken (it is unreadable or keeps changing); if no run uses "
                           f"{results}, delete it.")


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _create_complete(path: Path, holder: dict) -> bool:
    """Create ``path`` holding ``holder`` if it does not exist; False if it does. The lock appears complete
    or not at all (written to a temporary, then hard-linked into place), so a full disk leaves no empty lock."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}-", dir=path.parent)
    try:
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(holder, f, indent=2)
                f.write("\n")
            os.chmod(tmp, 0o644)
        except OSError as err:
            raise disk_full_error(path, err) or err
        try:
            os.link(tmp, path)
        except (FileExistsError, FileNotFoundError):  # taken, or our temporary cleaned by the holder
            return False
        except OSError:  # a file system without hard links: exclusive create, then write
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(Path(tmp).read_text(encoding="utf-8"))
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def release_lock(path: str | os.PathLike) -> None:
    """Remove the lock if this process holds it (a lock taken over by another run is left alone)."""
    path = Path(path)
    holder = _read_lock(path)
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)
        if os.environ.get(RUN_ENV) == holder.get("run"):
            del os.environ[RUN_ENV]
            os.environ.pop(MAIN_ENV, None)


def remove_stale_temporaries(results: str | os.PathLike) -> list[Path]:
    """Delete the project's temporaries (:data:`TEMPORARY`) that killed jobs left under ``results``.

    Only safe while holding the lock: then no job of another run can be writing them. A folder below
    ``results`` that holds a lock file of its own is another results folder and is not entered.
    Returns what was removed.
    """
    removed = []
    results = Path(results)
    for folder, dirs, files in os.walk(results):
        if Path(folder) != results and LOCK_FILE in files:
            dirs[:] = []  # another run's results folder, whether held now or not: not ours to clean
            continue
        for name in list(dirs) + files:
            if TEMPORARY.match(name):
                path = Path(folder) / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        dirs[:] = [d for d in dirs if not TEMPORARY.match(d)]
    return removed


def unwritable_folder(outputs) -> tuple[Path, Path] | None:
    """The first ``(folder, output)`` where a planned output cannot be written (its folder, or the nearest
    folder that exists, is not writable; or it is a folder that exists and is not writable, so its
    files cannot be removed before the job remakes it: Snakemake would fail removing or creating it
    with a long traceback), or None."""
    checked = {}
    for output in outputs:
        output = Path(output)
        folders = [output] if output.is_dir() else []
        folders.append(next((p for p in output.parents if p.exists()), Path(".")))
        for folder in folders:
            if folder not in checked:
                checked[folder] = os.access(folder, os.W_OK | os.X_OK)
            if not checked[folder]:
                return folder, output
    return None
