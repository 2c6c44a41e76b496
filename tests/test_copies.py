"""Every marked copy (``Copied from ...``) still equals its original (tests/check_copies.py)."""

import subprocess
import textwrap

import check_copies
from study import REPO


def test_marked_copies_equal_their_originals():
    copies = check_copies.find_copies(REPO)
    kinds = {("schema" if c.key else "pins" if c.original.endswith(".txt") else "code") for c in copies}
    assert {"schema", "pins"} <= kinds, f"markers not found: {copies}"
    assert check_copies.check(REPO, copies) == []


def _repo(tmp_path, files: dict) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)


ORIGINALS = {
    "pkg/mod.py": '''
        LIMIT = 3


        def scale(x, factor=2):
            """Twice x."""
            return x * factor
    ''',
    "schema.yaml": """
        properties:
          block:
            properties:
              rate: {type: number, default: 0.5}
    """,
    "requirements.txt": "torch==2.1.0\nnumpy==1.0\n",
}


def test_copies_that_agree_pass(tmp_path):
    _repo(tmp_path, {**ORIGINALS, "copy.py": '''
        # Copied from pkg.mod.scale with scale->double
        def double(x, factor=2):
            """Twice x."""
            return x * factor


        RATE = 0.5  # Copied from schema.yaml: block.rate
    ''', "Makefile": "# Copied from requirements.txt\nsetup:\n\tpip install torch==2.1.0\n\nother:\n\tpip install numpy==9\n"})
    copies = check_copies.find_copies(tmp_path)
    assert len(copies) == 3
    assert check_copies.check(tmp_path, copies) == []


def test_each_kind_of_drift_fails(tmp_path):
    _repo(tmp_path, {**ORIGINALS, "copy.py": '''
        # Copied from pkg.mod.scale
        def scale(x, factor=3):
            """Twice x."""
            return x * factor


        class Settings:
            rate: float = 0.25  # Copied from schema.yaml: block.rate

        # Copied from pkg.mod.missing
        LIMIT = 3
    ''', "env.yaml": "deps:\n  # Copied from requirements.txt\n  - torch==2.2.0\n  - numpy==1.0\n"})
    problems = check_copies.check(tmp_path)
    assert len(problems) == 4, problems
    assert any("copy.py:2: differs from pkg.mod.scale" in p for p in problems)
    assert any("copy.py:9: 0.25 differs from the default of block.rate" in p for p in problems)
    assert any("copy.py:11:" in p and "no 'missing'" in p for p in problems)
    assert any("env.yaml:2: pins differ from requirements.txt: torch 2.2.0 (requirements: 2.1.0)" in p
               for p in problems)
