"""The package works when installed: a wheel built from the working tree, installed into a folder
of its own and imported from another directory, with the checkout on no import path.

Every file the package reads ships inside it (``mvlm_distill/resources/``, package data): the
config schema (the one Snakemake validates with), the default study's config (quickstart's
settings) and the shipped teachers' recipe. In the checkout each is a link to its one source;
the wheel holds the files themselves.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from study import REPO, TOY_CLIP, TOY_PRETRAINING

#: what the wheel is built from, besides the package: the project files and the links' targets
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE", "config.yaml", "teachers/recipe.yaml",
               "workflow/schemas/config.schema.yaml")
#: the package's unit tests run against the installed copy (fast ones that read package data)
UNIT_TESTS = ("test_config.py", "test_stats.py", "test_consistency.py")


def _source_tree(dest: Path) -> Path:
    """The working tree's package (tracked and untracked files git does not ignore, links kept as
    links) and BUILD_FILES, copied to ``dest``."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "mvlm_distill"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.splitlines()
    for name in [*dict.fromkeys(listed), *BUILD_FILES]:
        src = REPO / name
        if not (src.is_file() or src.is_symlink()) or "__pycache__" in src.parts:
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / name, follow_symlinks=False)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(site, env)``: the folder the wheel was installed into and an environment whose Python
    imports the package from it (``python -S``: no .pth file of this environment runs, so its
    editable install of the checkout is not on the path; the dependencies come from its site-packages)."""
    work = tmp_path_factory.mktemp("installed")
    src = _source_tree(work / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    proc = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work / "dist"),
                           str(src)], cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (wheel,) = (work / "dist").glob("mvlm_distill-*.whl")
    site = work / "site"
    proc = subprocess.run([*pip, "install", "--no-deps", "--no-compile", "-q", "--target", str(site), str(wheel)],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    (work / "elsewhere").mkdir()
    return site, env, work / "elsewhere"


def _python(installed, code: str, *args: str):
    site, env, cwd = installed
    return subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(code), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_installed_package_reads_only_its_own_files(installed):
    site = installed[0]
    proc = _python(installed, """
        import json, sys
        from pathlib import Path

        import mvlm_distill
        from mvlm_distill import config
        from mvlm_distill.models import recipe
        from mvlm_distill import quickstart  # noqa: F401  (imports without the checkout)

        site, checkout = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
        toy, pretraining = json.loads(sys.argv[3]), json.loads(sys.argv[4])
        assert not any(p and Path(p).resolve() == checkout for p in sys.path), sys.path
        assert not any("editable" in type(f).__name__.lower() or "editable" in getattr(f, "__module__", "")
                       for f in sys.meta_path), sys.meta_path
        for path in (Path(mvlm_distill.__file__), config.SCHEMA_PATH, config.DEFAULT_CONFIG, recipe.RECIPE_FILE):
            assert path.resolve().is_relative_to(site) and path.is_file() and not path.is_symlink(), path
        study = config.load_yaml(config.DEFAULT_CONFIG)
        assert config.validate_schema(study)["distillation"]["temperatures"]
        # a study the package checks without the checkout: a toy teacher it would pretrain
        study.update(models=[toy], teacher_pretraining=pretraining)
        checked = config.check_config(study, base_dir=".")
        assert checked["models"][0]["student_layers"] == [0, 2]
        try:
            config.check_config({**study, "methods": {"ED": {"XX": 1.0}}}, base_dir=".")
        except config.ConfigError as err:
            print("refused:", err)
        assert config.load_yaml(recipe.RECIPE_FILE)["families"]["clip"]["steps"] > 0
        print("ok")
        """, str(site), str(REPO), json.dumps(TOY_CLIP), json.dumps(TOY_PRETRAINING))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "ok" and "refused: methods.ED" in proc.stdout, proc.stdout
    packaged = site / "mvlm_distill" / "resources"
    for name, source in (("config.schema.yaml", "workflow/schemas/config.schema.yaml"),
                         ("config.yaml", "config.yaml"), ("recipe.yaml", "teachers/recipe.yaml")):
        assert (packaged / name).read_bytes() == (REPO / source).read_bytes(), name


def test_the_package_unit_tests_pass_from_the_installed_copy(installed):
    site, env, cwd = installed
    proc = subprocess.run([sys.executable, "-S", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-k", "not snakemake", *[str(REPO / "tests" / name) for name in UNIT_TESTS]],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1] and " skipped" not in proc.stdout.splitlines()[-1], proc.stdout
    check = _python(installed, "import mvlm_distill; print(mvlm_distill.__file__)")
    assert Path(check.stdout.strip()).resolve().is_relative_to(site.resolve()), check.stdout + check.stderr


@pytest.mark.slow
def test_quickstart_runs_from_the_installed_copy(installed, tmp_path):
    """quickstart's settings (the default study's config, the recipe) come from inside the package."""
    site, env, cwd = installed
    proc = subprocess.run([sys.executable, "-S", "-m", "mvlm_distill.quickstart", "--family", "clip", "--method", "ED",
                           "--teacher-steps", "2", "--distill-steps", "2", "--train-images", "60",
                           "--out", str(tmp_path / "out")], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "text-to-image R@1 (clip" in proc.stdout and "\nED " in proc.stdout, proc.stdout
