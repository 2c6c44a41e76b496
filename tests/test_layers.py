"""The package's imports follow the data flow: data -> models (teachers) -> distill (caches, students,
embeddings) -> evaluate (scores) -> report (tables, pages), never back (docs/internals.md).

A module of a floor imports its own floor, earlier floors and the shared base modules; the base
modules import no floor. Static: every import statement counts, at module level or inside a function.
"""

import ast
import sys
from pathlib import Path

from study import REPO

PACKAGE = REPO / "mvlm_distill"
FLOORS = ("data", "models", "distill", "evaluate", "report")
#: top-level modules every floor may use: they import no floor themselves
BASE = ("definitions", "io", "paths", "progress", "cluster", "device", "optim", "results_folder", "logs",
        "run_stop")
#: floor modules that are tools over the floors, with why
TOOLS = {
    "mvlm_distill.models.recipe": "makes the shipped teachers outside the study (make teachers): scores their val "
                                  "split with the encoders and the retrieval metrics",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """The mvlm_distill modules a file imports (relative imports resolved)."""
    package = _module_name(path).split(".") if path.name == "__init__.py" else _module_name(path).split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from mvlm_distill.data import lexicon` imports the module mvlm_distill.data.lexicon
            out += [f"{module}.{alias.name}" for alias in node.names]
    return [name for name in out if name.split(".")[0] == "mvlm_distill"]


def _floor(module: str) -> int | None:
    parts = module.split(".")
    return FLOORS.index(parts[1]) if len(parts) > 1 and parts[1] in FLOORS else None


def _base(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[1] in BASE


def test_no_floor_imports_a_later_floor():
    backwards = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        own = _floor(module)
        if own is None or module in TOOLS:
            continue
        backwards += [f"{module} -> {name}" for name in _imports(path) if (_floor(name) or 0) > own]
    assert backwards == [], "imports against the data flow:\n" + "\n".join(backwards)


def test_base_modules_import_no_floor():
    upward = []
    for name in BASE:
        path = PACKAGE / f"{name}.py"
        assert path.exists(), path
        upward += [f"mvlm_distill.{name} -> {m}" for m in _imports(path) if not _base(m)]
    assert upward == [], "base modules importing floors or tools:\n" + "\n".join(upward)


def test_the_scan_sees_relative_and_function_level_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    path = tmp_path / "mvlm_distill" / "data" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text("from ..evaluate import score\n\ndef f():\n    from mvlm_distill.report import tables\n"
                    "    import mvlm_distill.models.base\n")
    assert _imports(path) == ["mvlm_distill.evaluate.score", "mvlm_distill.report.tables", "mvlm_distill.models.base"]
