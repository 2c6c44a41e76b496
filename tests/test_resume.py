"""Preemption: a training process killed mid-run resumes to the same student, bit for bit.

The worker signals itself at a chosen moment of a chosen checkpoint (tests/resume_worker.py), so
every case is deterministic: no race between a timer and the training loop.
"""

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("resume_worker.py")
STEPS = 60
EVERY = 5  # the worker's checkpoint_every


def _run(workdir: Path, *kill) -> subprocess.CompletedProcess:
    args = [sys.executable, str(WORKER), str(workdir), str(STEPS), *map(str, kill)]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def _finish(workdir: Path) -> None:
    proc = _run(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    _finish(workdir)
    return workdir


def _same_student(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "student.safetensors")), load_file(str(b / "student.safetensors"))
    assert wa.keys() == wb.keys()
    for name in wa:
        assert (wa[name] == wb[name]).all(), f"{name} differs after resume"
    assert (a / "loss_log.csv").read_text() == (b / "loss_log.csv").read_text()


def _checkpoint_step(workdir: Path) -> int | None:
    path = workdir / "state" / "state.pt"
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state["loss_log"]) == int(state["step"]), "a checkpoint without its full loss log"
    return int(state["step"])


# (point, nth checkpoint) -> the checkpoint a SIGKILL leaves behind
KILL_CASES = {
    ("written", 1): None,  # the first checkpoint never reached its place: start again
    ("written", 2): EVERY,  # the second one was cut short: the first stands
    ("saved", 1): EVERY,
}


@pytest.mark.parametrize("point,nth", list(KILL_CASES))
def test_sigkill_during_a_checkpoint_resumes_from_the_last_complete_one(reference, tmp_path, point, nth):
    proc = _run(tmp_path, point, int(signal.SIGKILL), nth)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert _checkpoint_step(tmp_path) == KILL_CASES[point, nth]
    leftovers = list((tmp_path / "state").glob(".*.mvlm-tmp-*"))
    assert len(leftovers) == (1 if point == "written" else 0)  # a kill before the rename leaves its temporary file
    _finish(tmp_path)
    assert not list((tmp_path / "state").glob(".*.mvlm-tmp-*")), "a cut-short checkpoint file was left behind"
    _same_student(reference, tmp_path)


@pytest.mark.parametrize("sig,point,nth", [(signal.SIGTERM, "written", 1), (signal.SIGUSR1, "saved", 2)])
def test_slurm_signal_during_a_checkpoint_saves_state_and_resumes(reference, tmp_path, sig, point, nth):
    proc = _run(tmp_path, point, int(sig), nth)
    assert proc.returncode == 128 + sig, proc.stderr[-3000:]  # saved, then stopped so that Snakemake retries
    # the signal arrived during checkpoint nth; the loop finished that step's save, ran one more step and saved it
    assert _checkpoint_step(tmp_path) == nth * EVERY + 1
    assert not (tmp_path / "student.safetensors").exists()
    _finish(tmp_path)
    _same_student(reference, tmp_path)


def test_a_checkpoint_without_its_log_is_refused(reference, tmp_path):
    proc = _run(tmp_path, "saved", int(signal.SIGKILL), 1)
    assert proc.returncode == -signal.SIGKILL
    path = tmp_path / "state" / "state.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    del state["loss_log"]
    torch.save(state, path)
    proc = _run(tmp_path)
    assert proc.returncode != 0
    assert f"{path}: the checkpoint of step {EVERY} lacks its loss log" in proc.stderr
