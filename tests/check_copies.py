"""Marked copies: each deliberate copy in the repository names its original, and this checks they agree.

A copy kept on purpose (where importing the original is not possible or not wanted) carries a
comment naming its original, as transformers' ``# Copied from`` comments do (its
``utils/check_copies.py`` is the model). Three kinds:

- ``Copied from mvlm_distill.module.name`` on the line above a ``def``, ``class`` or assignment
  of a Python file: that code equals the original's, optionally after replacements
  (``Copied from mvlm_distill.x.f with old->new``).
- ``Copied from workflow/schemas/config.schema.yaml: dotted.key`` at the end of a line that sets a
  value (``name = value``, ``name: type = value``, a keyword default ``name=value,``): the value
  equals that key's ``default`` in the schema.
- ``Copied from requirements.txt`` on a comment line above a block (up to the next blank line):
  every ``name==version`` pin in the block equals requirements.txt's pin of that name.

    python tests/check_copies.py       # lists the marked copies; exit 1 with one line per drift

tests/test_copies.py runs the check.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCANNED_SUFFIXES = {".py", ".smk", ".yaml", ".yml", ".toml", ".cfg", ".sh", ".txt"}
SCANNED_NAMES = {"Makefile", "Snakefile"}
# a comment (a '#' at the start of the line or after a space) that names an original
MARKER = re.compile(r"(?:^|\s)#\s*Copied from\s+(?P<original>\S+?)(?::\s*(?P<key>[\w.\-]+))?"
                    r"(?:\s+with\s+(?P<replace>.+?))?\s*$")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;\"']+)")


@dataclass(frozen=True)
class Copy:
    file: str  # relative to the repository root
    line: int  # 1-based line of the marker
    original: str
    key: str | None
    replace: str | None

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def scanned_files(root: Path) -> list[Path]:
    """The files git tracks or would track (untracked, not ignored) that can hold a marker."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    files = [root / name for name in dict.fromkeys(out)]
    return sorted(f for f in files if f.is_file() and (f.suffix in SCANNED_SUFFIXES or f.name in SCANNED_NAMES))


def _python_comment_lines(path: Path) -> set[int]:
    """Lines of a Python file that hold a comment (a marker inside a string is no marker)."""
    with path.open("rb") as f:
        try:
            return {tok.start[0] for tok in tokenize.tokenize(f.readline) if tok.type == tokenize.COMMENT}
        except (tokenize.TokenError, SyntaxError):
            return set()


def find_copies(root: Path = REPO, files: list[Path] | None = None) -> list[Copy]:
    copies = []
    for path in files if files is not None else scanned_files(root):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        comments = _python_comment_lines(path) if path.suffix == ".py" else None
        for number, text in enumerate(lines, 1):
            m = MARKER.search(text)
            if m and (comments is None or number in comments):
                copies.append(Copy(path.relative_to(root).as_posix(), number, m["original"], m["key"], m["replace"]))
    return copies


# ----------------------------------------------------------------------------- Python code


def _module_file(root: Path, dotted: str) -> tuple[Path, list[str]]:
    """The source file of the longest module prefix of ``dotted`` and the names inside it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:cut])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, parts[cut:]
    raise LookupError(f"no module of {dotted!r} in the repository")


def _node_names(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _start(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _segment(source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    return textwrap.dedent("\n".join(lines[_start(node) - 1:node.end_lineno]))


def original_code(root: Path, dotted: str) -> str:
    path, names = _module_file(root, dotted)
    source = path.read_text(encoding="utf-8")
    body, node = ast.parse(source).body, None
    for name in names:
        node = next((n for n in body if name in _node_names(n)), None)
        if node is None:
            raise LookupError(f"{dotted}: no {name!r} in {path.relative_to(root)}")
        body = getattr(node, "body", [])
    if node is None:
        raise LookupError(f"{dotted} names a module, not a definition in it")
    return _segment(source, node)


def copied_code(root: Path, copy: Copy) -> str:
    source = (root / copy.file).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if _node_names(node) and _start(node) == copy.line + 1:
            return _segment(source, node)
    raise LookupError("the marker is not on the line above a def, class or assignment")


def _replaced(code: str, replace: str | None) -> str:
    for pair in (replace or "").split(","):
        if "->" in pair:
            old, new = (p.strip() for p in pair.split("->", 1))
            code = code.replace(old, new)
    return code


def check_code(root: Path, copy: Copy) -> str | None:
    if not copy.file.endswith(".py"):
        return f"{copy.where()}: code copies are checked in Python files only"
    original = _replaced(original_code(root, copy.original), copy.replace)
    if copied_code(root, copy) != original:
        return f"{copy.where()}: differs from {copy.original}; make it equal again (or drop the copy and import it)"
    return None


# ----------------------------------------------------------------------------- schema defaults


def schema_default(root: Path, schema: str, key: str):
    node = yaml.safe_load((root / schema).read_text(encoding="utf-8"))
    for part in key.split("."):
        node = (node.get("properties") or {}).get(part)
        if node is None:
            raise LookupError(f"{schema} has no key {key!r}")
    if "default" not in node:
        raise LookupError(f"{schema}: {key} has no default")
    return node["default"]


def copied_value(line: str):
    """The literal a line sets: after its last '=' (not '==') and before the marker comment."""
    code = line[: MARKER.search(line).start()].rstrip().rstrip(",")
    value = re.split(r"(?<![=!<>])=(?!=)", code)[-1].strip()
    return ast.literal_eval(value)


def check_default(root: Path, copy: Copy) -> str | None:
    line = (root / copy.file).read_text(encoding="utf-8").splitlines()[copy.line - 1]
    expected = schema_default(root, copy.original, copy.key)
    try:
        value = copied_value(line)
    except (ValueError, SyntaxError):
        return f"{copy.where()}: no literal value on the marked line"
    if value != expected or type(value) is not type(expected):
        return f"{copy.where()}: {value!r} differs from the default of {copy.key} in {copy.original} ({expected!r})"
    return None


# ----------------------------------------------------------------------------- requirement pins


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        code = "" if line.lstrip().startswith("#") else line.split(" #")[0]
        for name, version in PIN.findall(code):
            found[name.lower().replace("_", "-")] = version
    return found


def check_pins(root: Path, copy: Copy) -> str | None:
    original = pins((root / copy.original).read_text(encoding="utf-8").splitlines())
    lines = (root / copy.file).read_text(encoding="utf-8").splitlines()[copy.line:]
    block = lines[: next((i for i, line in enumerate(lines) if not line.strip()), len(lines))]
    copied = pins(block)
    if not copied:
        return f"{copy.where()}: no name==version pin in the block below the marker"
    drift = [f"{name} {version} (requirements: {original.get(name, 'absent')})"
             for name, version in copied.items() if original.get(name) != version]
    return f"{copy.where()}: pins differ from {copy.original}: {', '.join(drift)}" if drift else None


# ----------------------------------------------------------------------------- all


def check(root: Path = REPO, copies: list[Copy] | None = None) -> list[str]:
    """One line per marked copy that no longer equals its original (or whose marker is unusable)."""
    problems = []
    for copy in copies if copies is not None else find_copies(root):
        try:
            if copy.key:
                problem = check_default(root, copy)
            elif copy.original.endswith(".txt"):
                problem = check_pins(root, copy)
            else:
                problem = check_code(root, copy)
        except (LookupError, OSError, SyntaxError) as err:
            problem = f"{copy.where()}: {err}"
        if problem:
            problems.append(problem)
    return problems


def main() -> int:
    copies = find_copies()
    for copy in copies:
        print(f"{copy.where()}: copy of {copy.original}" + (f": {copy.key}" if copy.key else ""))
    problems = check(REPO, copies)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
