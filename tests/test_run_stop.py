"""A run stopped by SIGTERM or Ctrl-C ends with one line saying so (mvlm_distill/run_stop.py), not with
Snakemake's "At least one job did not complete successfully", and exits 128 + the signal's number.

A two-rule workflow with the same hooks the project's Snakefile uses: the first job is running
when the main Snakemake process gets the signal."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mvlm_distill import run_stop

HOOKS = """
from mvlm_distill import run_stop


onstart:
    run_stop.watch_stop_signals()


onerror:
    run_stop.exit_if_stopped(log)
"""
RULES = """
rule all:
    input: "b"


rule a:
    output: "a"
    shell: "touch started; sleep 4; touch {output}"


rule b:
    input: "a"
    output: "b"
    shell: "touch {output}"
"""


def _stopped_run(work: Path, sig: int, hooks: bool = True) -> subprocess.CompletedProcess:
    work.mkdir()
    (work / "Snakefile").write_text((HOOKS if hooks else "") + RULES)
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=work, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (work / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(sig)  # the main process only, as `kill <pid>` or a scheduler does
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_the_line_only_after_a_stop_signal(monkeypatch, capsys):
    monkeypatch.setattr(run_stop, "_received", [])
    assert run_stop.stop_message("x.log") is None
    run_stop.exit_if_stopped("x.log")  # returns: an ordinary failure keeps Snakemake's own report
    monkeypatch.setattr(run_stop, "_received", [signal.SIGTERM])
    with pytest.raises(SystemExit) as stop:
        run_stop.exit_if_stopped("x.log")
    assert stop.value.code == 143
    assert capsys.readouterr().err.startswith("Run stopped by SIGTERM (log: x.log): jobs that finished are kept")


def test_sigterm_ends_with_one_honest_line(tmp_path):
    proc = _stopped_run(tmp_path / "run", signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Run stopped by SIGTERM (log: ") and last.endswith(
        "jobs that finished are kept and jobs it interrupted run again (distill resumes from its checkpoint); "
        "rerun the same command to continue.")
    assert "did not complete successfully" not in proc.stderr
    # Snakemake let the running job finish and started no other
    assert (tmp_path / "run" / "a").exists() and not (tmp_path / "run" / "b").exists()


def test_ctrl_c_ends_with_one_honest_line(tmp_path):
    proc = _stopped_run(tmp_path / "run", signal.SIGINT)
    assert proc.returncode == 128 + signal.SIGINT, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("Run stopped by SIGINT (log: ")
    assert "did not complete successfully" not in proc.stderr


def test_without_the_hooks_snakemake_reports_a_failure(tmp_path):
    """What the hooks replace: exit 1 and a failure message although no job failed."""
    proc = _stopped_run(tmp_path / "run", signal.SIGTERM, hooks=False)
    assert proc.returncode == 1 and "At least one job did not complete successfully" in proc.stderr
    assert (tmp_path / "run" / "a").exists()
