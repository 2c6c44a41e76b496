"""Preemption: a training process killed mid-run resumes to the same student, bit for bit."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("resume_worker.py")
STEPS = 60


def _start(workdir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), str(workdir), str(STEPS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(workdir: Path) -> None:
    proc = _start(workdir)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


def _interrupt(workdir: Path, sig: int) -> int:
    """Start a run, wait until a periodic checkpoint exists, then send ``sig``."""
    proc = _start(workdir)
    state = workdir / "state" / "state.pt"
    deadline = time.time() + 300
    while not state.exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.time() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    assert not (workdir / "student.safetensors").exists(), "the run finished before it was interrupted"
    return proc.returncode


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


def test_sigkill_resumes_from_last_checkpoint(reference, tmp_path):
    code = _interrupt(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    _finish(tmp_path)
    _same_student(reference, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_slurm_signal_saves_state_and_resumes(reference, tmp_path, sig):
    code = _interrupt(tmp_path, sig)
    assert code == 128 + sig  # saved, then stopped so that Snakemake retries the job
    _finish(tmp_path)
    _same_student(reference, tmp_path)
