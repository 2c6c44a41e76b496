"""What a run does to its results folder around its jobs: a lock, stale temporaries, writable folders.

Snakemake's own lock (``.snakemake/locks``) is per working directory, so two clones whose configs point
``results:`` at one folder would both run and delete each other's outputs. The lock here lives in the
results folder itself and is held by the planning process for the whole run (Snakefile ``onstart``,
released by ``onsuccess``/``onerror`` and at exit); jobs never take it.
"""

from __future__ import annotations

import atexit
import datetime
import getpass
import json
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = ".mvlm-distill.lock"
# io.atomic_path/atomic_directory: ".{name}.tmp-XXXX"; pretrain_teacher: ".tmp-XXXX"; distill: ".seed0.tmp"
TEMPORARY = re.compile(r"^\.(.+\.tmp-.+|tmp-.+|.+\.tmp)$")


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
    results.mkdir(parents=True, exist_ok=True)
    path = results / LOCK_FILE
    me = {"owner": getpass.getuser(), "host": socket.gethostname(), "pid": os.getpid(),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "workdir": str(Path(workdir).resolve())}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if holder.get("host") == me["host"] and holder.get("pid") == me["pid"]:
                return path  # this very process took it already
            if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) \
                    and not _pid_running(holder["pid"]):
                print(f"Removed the stale lock {path} of {_describe(holder)}: that process is no longer running.",
                      file=sys.stderr)
                path.unlink(missing_ok=True)
                continue
            if not holder:  # being written this instant, or unreadable: look once more
                time.sleep(0.5)
                continue
            raise ResultsLockError(
                f"{results.resolve()} is in use by {_describe(holder)}; wait for that run to finish, or if it is no longer "
                f"running (killed, or its machine rebooted) delete {path.resolve()} and, in its clone, run "
                f"`snakemake --unlock`."
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f, indent=2)
            f.write("\n")
        atexit.register(release_lock, path)
        return path
    raise ResultsLockError(f"{path}: could not be taken (it is unreadable or keeps changing); if no run uses "
                           f"{results}, delete it.")


def release_lock(path: str | os.PathLike) -> None:
    """Remove the lock if this process holds it (a lock taken over by another run is left alone)."""
    path = Path(path)
    holder = _read_lock(path)
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


def remove_stale_temporaries(results: str | os.PathLike) -> list[Path]:
    """Delete the ``*.tmp-*`` files and folders that killed jobs left under ``results``.

    Only safe while holding the lock: then no job of another run can be writing them. Returns what was removed.
    """
    removed = []
    for folder, dirs, files in os.walk(results):
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
    folder that exists, is not writable; Snakemake would fail removing or creating it with a long
    traceback), or None."""
    checked = {}
    for output in outputs:
        output = Path(output)
        folder = next((p for p in output.parents if p.exists()), Path("."))
        if folder not in checked:
            checked[folder] = os.access(folder, os.W_OK | os.X_OK)
        if not checked[folder]:
            return folder, output
    return None
