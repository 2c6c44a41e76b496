"""Reading one language of a prepared VQA table: CSV (the format before) against Parquet with a filter.

The measurement that switched the prepared tables to Parquet: with CSV, each of the paper grid's
per-language scoring jobs read the whole ``vqa.csv`` of its benchmark.
xGQA's is the largest: 8 languages x 12,578 questions, each row with its 200 answer candidates as
a JSON list (~150 MB). This builds a table of that shape (deterministic; GQA-like short answers),
writes it as CSV (``formats.write_benchmark``'s way before the switch) and as Parquet (candidates as a list column,
one row group per language), and times, interleaved, ``--repeats`` times:

* ``csv``: ``formats``' reader (``pd.read_csv(dtype=str)``, candidates JSON-parsed for every row),
  then the language's rows (what ``read_benchmark`` + ``split_vqa`` did);
* ``csv_parse_one``: the same CSV, candidates parsed only for the language's rows;
* ``parquet``: ``pyarrow.parquet.read_table(filters=[("language", "==", lang)])`` to pandas;
* ``project``: the project's reader, what ``read_benchmark(root, validate=False, languages=[lang])``
  does now for each table.

Prints a JSON line per repeat and the median times and ratios. Times depend on the machine; the
ratios, measured in one run, are what the README reports.

    python benchmarks/bench_prepared_tables.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

LANGUAGES = ("en", "bn", "de", "id", "ko", "pt", "ru", "zh")


def build_table(n_questions: int = 12578, n_candidates: int = 200, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    syllables = ["ye", "no", "le", "ft", "ri", "ght", "wh", "ite", "bla", "ck", "ta", "ble", "ma", "n", "wo"]
    vocab = sorted({"".join(rng.choice(syllables, size=rng.integers(1, 3))) for _ in range(20 * n_candidates)})
    vocab = [str(v) for v in vocab[:n_candidates]]
    candidates = json.dumps(vocab, ensure_ascii=False)
    rows = []
    for lang in LANGUAGES:
        for q in range(n_questions):
            rows.append({"question_id": f"{20968379 + q}_{lang}", "parallel_id": str(20968379 + q),
                         "image_id": f"n{100000 + q // 25}", "language": lang,
                         "question": f"Is the object number {q} on the {lang} side of the picture?",
                         "answer": vocab[q % n_candidates], "candidates": candidates})
    return pd.DataFrame(rows)


def write_formats(frame, folder: Path) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path, parquet_path = folder / "vqa.csv", folder / "vqa.parquet"
    frame.to_csv(csv_path, index=False)
    table = pa.Table.from_pandas(frame.assign(candidates=frame["candidates"].map(json.loads)), preserve_index=False)
    with pq.ParquetWriter(parquet_path, table.schema) as writer:
        for lang in LANGUAGES:  # one row group per language: a filter skips the others unread
            writer.write_table(table.filter(pa.compute.equal(table["language"], lang)))
    return csv_path, parquet_path


def read_csv_then_filter(path: Path, lang: str, parse_all: bool = True):
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if parse_all:
        frame["candidates"] = [json.loads(c) for c in frame["candidates"].tolist()]
        return frame[frame["language"] == lang]
    frame = frame[frame["language"] == lang].copy()
    frame["candidates"] = [json.loads(c) for c in frame["candidates"].tolist()]
    return frame


def read_parquet_filtered(path: Path, lang: str):
    import pyarrow.parquet as pq

    frame = pq.read_table(path, filters=[("language", "==", lang)]).to_pandas()
    frame["candidates"] = [list(c) for c in frame["candidates"].tolist()]
    return frame


def read_project(path: Path, lang: str):
    """The project's own reader of a prepared table (``read_benchmark(..., languages=[lang])``'s)."""
    from mvlm_distill.data.formats import _read_table

    return _read_table(path, [lang])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--language", default="de")
    args = parser.parse_args(argv)
    readers = {"csv": lambda p, q: read_csv_then_filter(p, args.language),
               "csv_parse_one": lambda p, q: read_csv_then_filter(p, args.language, parse_all=False),
               "parquet": lambda p, q: read_parquet_filtered(q, args.language),
               "project": lambda p, q: read_project(q, args.language)}
    with tempfile.TemporaryDirectory(prefix="mvlm-bench-tables-") as tmp:
        csv_path, parquet_path = write_formats(build_table(), Path(tmp))
        sizes = {"csv_mb": round(csv_path.stat().st_size / 2**20, 1),
                 "parquet_mb": round(parquet_path.stat().st_size / 2**20, 1)}
        lengths = {name: len(read(csv_path, parquet_path)) for name, read in readers.items()}  # warm the cache
        assert len(set(lengths.values())) == 1, lengths
        times: dict[str, list[float]] = {name: [] for name in readers}
        for repeat in range(args.repeats):
            for name, read in readers.items():  # interleaved: load changes hit every reader alike
                start = time.perf_counter()
                read(csv_path, parquet_path)
                times[name].append(time.perf_counter() - start)
            print(json.dumps({"repeat": repeat, **{k: round(v[-1], 3) for k, v in times.items()},
                              "csv/parquet": round(times["csv"][-1] / times["parquet"][-1], 1)}))
    median = {name: statistics.median(v) for name, v in times.items()}
    result = {**sizes, "rows_read": lengths["csv"], **{f"{k}_s": round(v, 3) for k, v in median.items()},
              "ratio_csv_over_parquet": round(median["csv"] / median["parquet"], 1),
              "ratio_csv_parse_one_over_parquet": round(median["csv_parse_one"] / median["parquet"], 1),
              "ratio_csv_over_project": round(median["csv"] / median["project"], 1),
              "per_repeat_ratio": [round(a / b, 1) for a, b in zip(times["csv"], times["parquet"])]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
