"""The conda environment for cluster users pins the same versions as requirements.txt."""

import re

import yaml

from study import REPO


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_conda_env_matches_requirements():
    requirements = _pins((REPO / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "envs" / "study.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = _pins(pip_section)
    assert conda_pins, "envs/study.yaml pins nothing"
    for name, version in conda_pins.items():
        assert requirements.get(name) == version, f"{name}: envs/study.yaml {version} vs requirements.txt {requirements.get(name)}"
    runtime = {"torch", "torchvision", "open-clip-torch", "transformers", "pandas", "numpy", "seaborn", "datasets"}
    assert runtime <= set(conda_pins), f"missing from envs/study.yaml: {runtime - set(conda_pins)}"


def test_every_rule_uses_the_pinned_env():
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for conda in re.findall(r"conda:\s*\n\s*\"([^\"]+)\"", text):
            assert conda == "../../envs/study.yaml", f"{smk.name}: {conda}"


def test_test_only_pins_leave_the_study_pins_alone():
    """requirements-test.txt (installed --no-deps) adds the parity tests' references, and pins nothing
    requirements.txt pins: the study's environment stays the one envs/study.yaml describes."""
    study = _pins((REPO / "requirements.txt").read_text().splitlines())
    test_only = _pins((REPO / "requirements-test.txt").read_text().splitlines())
    assert {"clip-benchmark", "mteb"} <= set(test_only)
    assert not set(test_only) & set(study)
    assert "requirements-test.txt" in (REPO / "Makefile").read_text()
