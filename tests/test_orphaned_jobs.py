"""kill -9 of Snakemake's main process (the out-of-memory killer's way) while its distill jobs run.

The jobs notice within seconds and stop, saving their checkpoints; the next run, after
`snakemake --unlock` as README says, resumes them and finishes the study with every student in place.
(While jobs of a dead run still live, the next run is refused: tests/test_results_folder.py.)"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from study import project_copy, reduced_config, run_snakemake

pytestmark = pytest.mark.slow


def _students(work: Path, config: dict) -> list[Path]:
    return [work / "results" / "students" / config["models"][0]["name"] / method / "seed0"
            for method in config["methods"]]


def _run_id(work: Path) -> str:
    import json

    from mvlm_distill.results_folder import LOCK_FILE

    return json.loads((work / "results" / LOCK_FILE).read_text())["run"]


def _start_training(tmp_path):
    """A reduced study's two students, started by a Snakemake main process; returns once both are training."""
    work = project_copy(tmp_path / "clone")
    config = reduced_config()
    config["distillation"].update(steps=400, checkpoint_every=5)
    students = _students(work, config)
    targets = [str(p.relative_to(work)) for p in students]
    (work / "study.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    main = subprocess.Popen([sys.executable, "-m", "snakemake", "--configfile", "study.yaml", "--cores", "2",
                             "--quiet", "--", *targets], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    checkpoints = [work / "results" / "checkpoints" / p.relative_to(work / "results" / "students") / "state.pt"
                   for p in students]
    deadline = time.time() + 900
    while not all(c.exists() for c in checkpoints):  # both students are training
        assert main.poll() is None and time.time() < deadline, "the distill jobs never started"
        time.sleep(0.5)
    return work, config, students, targets, checkpoints, main


def test_a_killed_main_process_loses_no_student(tmp_path):
    from mvlm_distill.results_folder import _run_processes

    work, config, students, targets, checkpoints, main = _start_training(tmp_path)
    run = _run_id(work)
    main.send_signal(signal.SIGKILL)  # the main process only: its jobs live on
    main.wait()
    deadline = time.time() + 60
    while _run_processes(run):  # the jobs stop themselves: no orphan outlives its run
        assert time.time() < deadline, f"jobs outlived their run: {_run_processes(run)}"
        time.sleep(0.5)
    assert all(c.exists() for c in checkpoints), "a stopped job must leave its checkpoint"
    assert not any(p.exists() for p in students)

    unlock = run_snakemake(work, config, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    done = run_snakemake(work, config, "--", *targets)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Removed the stale lock" in done.stderr
    assert all(p.is_dir() for p in students)
    for student in students:
        log = work / "results" / "logs" / "distill" / f"{student.relative_to(work / 'results' / 'students')}.log"
        assert "Resumed from the checkpoint of step" in log.read_text(), log.read_text()[-2000:]


def test_a_sigterm_ends_with_one_line_and_the_next_run_finishes(tmp_path):
    work, config, students, targets, checkpoints, main = _start_training(tmp_path)
    main.send_signal(signal.SIGTERM)
    _, stderr = main.communicate(timeout=900)
    assert main.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Run stopped by SIGTERM (log: ") and "rerun the same command to continue" in last, last
    assert "At least one job did not complete successfully" not in stderr
    done = run_snakemake(work, config, "--", *targets)
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(p.is_dir() for p in students)
