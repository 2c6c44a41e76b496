"""Lost work around a run: jobs that outlive their run's main process, locks and checkpoints on a full disk.

The workflow-level kill -9 of the main process is in tests/test_orphaned_jobs.py; here the pieces, fast."""

import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mvlm_distill.results_folder import LOCK_FILE, RUN_ENV, ResultsLockError, acquire_lock, release_lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lock_of_a_dead_run(results: Path, run: str) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    lock = results / LOCK_FILE
    lock.write_text(json.dumps({"owner": "me", "host": socket.gethostname(), "pid": _dead_pid(),
                                "started": "2026-01-01T00:00:00+00:00", "workdir": str(results.parent), "run": run}))
    return lock


def test_a_dead_runs_lock_is_kept_while_its_jobs_live(tmp_path):
    """kill -9 of the main process leaves its jobs running: the next run is refused, naming them, until they end."""
    results = tmp_path / "results"
    lock = _lock_of_a_dead_run(results, "run-a")
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                           env={**os.environ, RUN_ENV: "run-a"})
    try:
        with pytest.raises(ResultsLockError) as err:
            acquire_lock(results)
        message = str(err.value)
        assert "\n" not in message
        assert "which is no longer running, but 1 of its job processes are still running" in message
        assert f"pid {job.pid} (" in message and f"kill {job.pid}" in message
        assert json.loads(lock.read_text())["run"] == "run-a", "the dead run's lock must stay while its jobs live"
    finally:
        job.kill()
        job.wait()
    taken = acquire_lock(results)
    try:
        holder = json.loads(taken.read_text())
        assert holder["pid"] == os.getpid() and holder["run"] != "run-a"
        assert os.environ[RUN_ENV] == holder["run"], "jobs started by this run must inherit its run id"
    finally:
        release_lock(taken)
    assert not taken.exists() and RUN_ENV not in os.environ


def test_processes_of_other_runs_do_not_hold_a_dead_runs_lock(tmp_path):
    results = tmp_path / "results"
    _lock_of_a_dead_run(results, "run-b")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             env={**os.environ, RUN_ENV: "run-c"})
    try:
        taken = acquire_lock(results)
        release_lock(taken)
    finally:
        other.kill()
        other.wait()


def test_an_empty_lock_left_by_a_torn_write_is_replaced(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    lock = results / LOCK_FILE
    lock.write_text("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    taken = acquire_lock(results)
    try:
        assert "Removed the empty or unreadable lock" in capsys.readouterr().err
        assert json.loads(taken.read_text())["pid"] == os.getpid()
    finally:
        release_lock(taken)


@contextlib.contextmanager
def full_disk(tmp_path: Path):
    """A small tmpfs filled to the last byte (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (mount / "results").mkdir()
        with open(mount / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 512)
        yield mount
    finally:
        # lazy: a traceback pytest keeps may still hold a file of it open
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def test_a_full_disk_leaves_no_lock_and_says_so(tmp_path):
    with full_disk(tmp_path) as disk:
        results = disk / "results"
        with pytest.raises(OSError) as err:
            acquire_lock(results)
        assert err.value.errno == errno.ENOSPC
        assert str(err.value).startswith(f"[Errno 28] {results / LOCK_FILE}: no space left on device")
        assert sorted(p.name for p in results.iterdir()) == [], "a full disk must not leave a lock behind"
        (disk / "filler").unlink()
        release_lock(acquire_lock(results))  # the next run takes it without help


def test_a_checkpoint_on_a_full_disk_names_the_disk_and_keeps_the_previous_one(tmp_path):
    """torch.save on a full disk says 'unexpected pos 576 vs 534'; the trainer says which file and why."""
    from test_trainer import _TinyStudent, _corpus

    from mvlm_distill.distill.losses import build_loss
    from mvlm_distill.distill.trainer import TrainingSettings, distill

    with full_disk(tmp_path) as disk:
        state = disk / "results" / "checkpoints"
        state.mkdir()
        settings = TrainingSettings(steps=4, batch_size=4, lr=1e-2, checkpoint_every=2)
        with pytest.raises(OSError) as err:
            distill(_TinyStudent(), _corpus(), build_loss({"FD": 1.0}), settings, logit_scale=10.0, logit_bias=None,
                    family="clip", state_dir=state, log_path=tmp_path / "log.csv", progress=False)
        assert str(err.value).startswith(f"[Errno 28] {state / 'state.pt'}: no space left on device")
        assert list(state.iterdir()) == [], "no partial checkpoint may be left"


def test_write_errors_on_a_disk_with_room_are_not_blamed_on_the_disk(tmp_path):
    from mvlm_distill.io import atomic_path

    with pytest.raises(RuntimeError, match="^unrelated$"):
        with atomic_path(tmp_path / "x.bin"):
            raise RuntimeError("unrelated")
    assert list(tmp_path.iterdir()) == []


def test_a_job_stops_when_its_runs_main_process_is_gone(tmp_path):
    """A job started by a run (MAIN_ENV set by acquire_lock) ends with SIGTERM once the run's main process dies."""
    from mvlm_distill.results_folder import MAIN_ENV, _start_time

    main = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    job_code = ("import time; from mvlm_distill.results_folder import stop_with_the_run; "
                "stop_with_the_run(interval=0.2); print('watching', flush=True); time.sleep(120)")
    env = {**os.environ, MAIN_ENV: f"{socket.gethostname()}:{main.pid}:{_start_time(main.pid)}"}
    job = subprocess.Popen([sys.executable, "-c", job_code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        assert job.stdout.readline().strip() == "watching"
        time.sleep(0.5)
        assert job.poll() is None, "the job must run while its run's main process lives"
        main.kill()
        main.wait()
        assert job.wait(timeout=30) == -15
        assert f"The run's main Snakemake process (pid {main.pid}) is gone; stopping this job." in job.stderr.read()
    finally:
        for proc in (main, job):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
