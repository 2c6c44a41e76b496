"""The workflow plans the grid, passes lint, and formats clean."""

import copy
import re
import subprocess
import sys

import pytest
import yaml

from study import BIN, REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def plan(*args, cwd=REPO):
    """Job counts per rule of a dry run (no data, no network)."""
    proc = subprocess.run(
        SNAKEMAKE + ["-n", "--forceall", "--quiet", "rules", "--cores", "1", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = {}
    section = proc.stdout.split("Job stats:")[1]
    for line in section.splitlines():
        m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def test_dry_run_of_the_default_grid():
    n_models, n_methods, n_langs, n_seeds = 2, 6, 9, 1
    rows = n_models * (2 + n_methods * n_seeds)  # teacher + init + students
    counts = plan()
    assert counts["prepare_benchmark"] == 1
    assert "pretrain_teacher" not in counts  # the teachers are shipped (teachers/), as the paper's are given
    assert counts["cache_images"] == n_models * 2  # corpus split + evaluation split
    assert counts["cache_teacher_text"] == n_models
    assert counts["distill"] == n_models * n_methods * n_seeds
    assert counts["embed_texts"] == rows
    assert counts["score_language"] == rows * n_langs
    assert counts["cluster_embeddings"] == rows
    assert counts["language_report"] == n_langs and counts["index_report"] == 1


def test_dry_run_of_a_larger_grid(tmp_path):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["seeds"] = [0, 1, 2]
    cfg["methods"]["MCL+ED"] = {"MCL": 1.0, "ED": 0.5}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(cfg))
    counts = plan("--configfile", str(path))
    assert counts["distill"] == 2 * 7 * 3
    assert counts["embed_texts"] == 2 * (2 + 7 * 3)
    assert counts["score_language"] == 2 * (2 + 7 * 3) * 9
    assert "pretrain_teacher" not in counts


def test_rule_resources_come_from_the_config(tmp_path):
    """`resources:` in the config sets a rule's first-attempt request (the SLURM profile submits it)."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["languages"] = ["en", "de"]
    cfg["resources"] = {"score_language": {"mem_mb": 12345, "runtime": 7}}
    path = tmp_path / "res.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(SNAKEMAKE + ["-n", "--forceall", "--cores", "1", "--configfile", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = re.findall(r"rule (\w+):\n(?:.*\n)*?\s+resources: (.*)", proc.stdout)
    score = [res for rule, res in blocks if rule == "score_language"]
    assert len(score) == 2 * (2 + 6) * 2, len(score)
    assert all("mem_mb=12345" in res and "runtime=7" in res for res in score), score[:2]
    cluster = [res for rule, res in blocks if rule == "cluster_embeddings"]
    assert cluster and all("mem_mb=2000" in res for res in cluster), cluster[:2]  # not named: the default


def test_subset_of_languages_from_the_command_line():
    counts = plan("--config", "languages=[de,th]")
    assert counts["score_language"] == 2 * 8 * 2
    assert counts["distill"] == 12  # the students do not depend on the evaluated languages


def test_more_seeds_from_the_command_line():
    counts = plan("--config", "seeds=[0,1]")
    assert counts["distill"] == 2 * 6 * 2


def test_lint_is_clean():
    proc = subprocess.run(SNAKEMAKE + ["--lint", "--cores", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def test_snakefmt_clean():
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_dry_run_of_the_paper_grid():
    """configs/paper.yaml plans offline with no data: 2 teachers x (6 methods x 3 seeds + teacher + init)."""
    counts = plan("--configfile", "configs/paper.yaml")
    rows = 2 * (6 * 3 + 2)
    languages = 36 + 4 + 8 + 8 + 7  # XM3600, Multi30K, xFlickr&CO, xGQA, MaXM
    assert counts["prepare_benchmark"] == 6
    assert counts["distill"] == 36
    assert counts["cache_images"] == 2 * 6
    assert counts["embed_texts"] == rows * 5
    assert counts["score_language"] == rows * languages
    assert counts["cluster_embeddings"] == rows * 3  # not for the VQA-only benchmarks
    assert "pretrain_teacher" not in counts


def test_plan_summary_counts_gpu_hours():
    from mvlm_distill.plan import parse_dry_run

    text = """rule distill:
    wildcards: model=m, kd_method=ED, seed=0
    resources: tmpdir=/tmp, gpu=1, runtime=720, mem_mb=64000
rule distill:
    resources: tmpdir=/tmp, gpu=2, runtime=60, mem_mb=64000
localrule score_language:
    resources: tmpdir=/tmp, runtime=10, mem_mb=1000
"""
    summary = parse_dry_run(text)
    assert summary["distill"] == {"jobs": 2, "gpu_jobs": 2, "gpu_hours": 14.0, "runtime_hours": 13.0}
    assert summary["score_language"]["gpu_jobs"] == 0
