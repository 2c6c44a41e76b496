"""Are two finished studies' numbers the same? Compares every CSV under ``scores/`` and ``tables/``
of two results folders: byte-identical files, else numeric columns within a tolerance.

    python benchmarks/compare_results.py BEFORE/results AFTER/results [--atol 1e-12] [--only scores/toy-clip]

Prints one line per file that is not byte-identical (its largest absolute difference) and a
summary; exits 1 when a file is missing, its shape or text columns differ, or a number differs
by more than ``--atol``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

FOLDERS = ("scores", "tables")


def compare_file(before: Path, after: Path, atol: float) -> tuple[bool, str]:
    """``(ok, note)``: ok when the files are equal, or differ only in numbers by at most ``atol``."""
    if before.read_bytes() == after.read_bytes():
        return True, "identical"
    a, b = pd.read_csv(before), pd.read_csv(after)
    if list(a.columns) != list(b.columns) or a.shape != b.shape:
        return False, f"shape or columns differ: {a.shape} vs {b.shape}"
    worst = 0.0
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            x, y = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                return False, f"{column}: NaN in different rows"
            both = ~np.isnan(x)
            worst = max(worst, float(np.abs(x[both] - y[both]).max(initial=0.0)))
        elif not x.astype(str).equals(y.astype(str)):
            return False, f"{column}: text differs"
    return worst <= atol, f"max abs difference {worst:.3g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--atol", type=float, default=1e-12, help="largest numeric difference allowed")
    ap.add_argument("--only", default="", help="compare only files under this relative folder")
    args = ap.parse_args(argv)
    roots = [args.only] if args.only else FOLDERS
    files = sorted({p.relative_to(args.before) for r in roots for p in (args.before / r).rglob("*.csv")})
    if not files:
        ap.error(f"{args.before}: no CSV files under {', '.join(roots)}")
    failed = identical = 0
    for rel in files:
        if not (args.after / rel).is_file():
            print(f"MISSING {rel}")
            failed += 1
            continue
        ok, note = compare_file(args.before / rel, args.after / rel, args.atol)
        identical += note == "identical"
        if note != "identical":
            print(f"{'ok  ' if ok else 'FAIL'} {rel}: {note}")
        failed += not ok
    print(f"{len(files)} files: {identical} byte-identical, {len(files) - identical - failed} within "
          f"{args.atol:g}, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
