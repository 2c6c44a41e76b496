"""Bad data files through the workflow's own scripts on a tiny results folder: each fault gets one sentence
naming the file(s), and no earlier output is replaced.

The fixture is a real results layout (a synthetic benchmark written by ``generate_benchmark``, a toy teacher
saved by ``save_model``, image caches and text embedding folders written by ``cache_images.py`` and
``embed_texts.py``, scores by ``score_language.py``), each script run as Snakemake runs it: with a
``snakemake`` object holding its inputs, outputs, params and wildcards.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from study import REPO

SCRIPTS = REPO / "workflow" / "scripts"
SPEC = {"name": "toy", "source": "toy", "family": "clip", "student_layers": [0, 2]}
BENCHMARK = "synthetic"


class Files(list):
    """Snakemake's input/output lists: positional, with the named entries also as attributes (a list for
    a name that stands for several files, as for a list of files or an input function in a rule)."""

    def __init__(self, *items, **named):
        named = {k: [str(f) for f in v] if isinstance(v, (list, tuple)) else str(v) for k, v in named.items()}
        super().__init__([*map(str, items), *(f for v in named.values() for f in ([v] if isinstance(v, str) else v))])
        self.__dict__.update(named)

    def __getitem__(self, key):
        # Snakemake's Namedlist also answers by name: output["summary"]
        return self.__dict__[key] if isinstance(key, str) else super().__getitem__(key)


class Job:
    def __init__(self, results, rule, input, output, params=None, **wildcards):
        self.input, self.output = input, output
        # the workflow hands each script its config values as one `settings` param (mvlm_distill/study.py)
        self.params = type("Params", (), {"settings": params or {}})()
        self.wildcards = type("Wildcards", (), wildcards)()
        self.log = Files(results / "logs" / f"{rule}.log")
        self.threads = 1


def run_script(name: str, job: Job) -> None:
    runpy.run_path(str(SCRIPTS / f"{name}.py"), init_globals={"snakemake": job}, run_name="__main__")


def bench_files(results, benchmark=BENCHMARK):
    """The prepared benchmark as the rules declare it: its one folder."""
    return results / "data" / benchmark


def teacher_dir(results):
    return results / "teachers" / "toy"


def images_cache(results, benchmark=BENCHMARK):
    return results / "caches" / "toy" / benchmark / "test.images.npz"


def texts_dir(results, method="teacher", benchmark=BENCHMARK):
    return results / "embeddings" / "toy" / method / "seed0" / benchmark


def score_outputs(results, method="teacher", language="de"):
    base = results / "scores" / "toy" / method / "seed0" / BENCHMARK
    return {"ranks": base / f"{language}.ranks.csv", "metrics": base / f"{language}.metrics.csv",
            "consistency": base / f"{language}.consistency.csv"}


def cache_images(results, benchmark=BENCHMARK, teacher=None, output=None):
    job = Job(results, "cache_images",
              Files(teacher=[teacher or teacher_dir(results)], benchmark=bench_files(results, benchmark)),
              Files(output or images_cache(results, benchmark)), {"spec": SPEC, "batch_size": 64},
              split="test", benchmark=benchmark)
    run_script("cache_images", job)


def embed_texts(results, method="teacher", benchmark=BENCHMARK, output=None):
    job = Job(results, "embed_texts", Files(source=[teacher_dir(results)], benchmark=bench_files(results, benchmark)),
              Files(output or texts_dir(results, method, benchmark)),
              {"spec": SPEC, "split": "test", "batch_size": 64}, method=method, seed="0", benchmark=benchmark)
    run_script("embed_texts", job)


def score_language(results, method="teacher", language="de", texts=None, images=None):
    job = Job(results, "score_language",
              Files(benchmark=bench_files(results), texts=texts or texts_dir(results, method),
                    images=images or images_cache(results)),
              Files(**score_outputs(results, method, language)), {"split": "test", "n_boot": 20},
              language=language)
    run_script("score_language", job)


def aggregate_tables(results, methods=("teacher", "init")):
    """Rule aggregate_tables over the German scores of ``methods`` (no clustering rows)."""
    def scores(kind):
        return [score_outputs(results, method)[kind] for method in methods]

    keys = [{"model": "toy", "family": "clip", "method": method, "seed": None, "benchmark": BENCHMARK}
            for method in methods]
    job = Job(results, "aggregate_tables", None, None, {"n_boot": 20, "alpha": 0.05,
                                                         "resource_groups": {"high": ["de"]}})
    job.params.key_tables = {"scores": [{**k, "language": "de"} for k in keys], "embeddings": keys,
                             "clustering": [], "benchmarks": [BENCHMARK], "vocabularies": []}
    job.input = type("Input", (), {"metrics": scores("metrics"), "ranks": scores("ranks"),
                                   "consistency": scores("consistency"), "clustering": [], "vocabularies": [],
                                   "benchmarks": [bench_files(results)],
                                   "embeddings": [texts_dir(results, method) for method in methods]})()
    names = ("metrics", "summary", "significance", "comparisons", "consistency", "clustering", "parameters", "bounds",
             "resource_groups")
    job.output = Files(**{name: results / "tables" / f"{name}.csv" for name in names})
    run_script("aggregate_tables", job)


def make_benchmark(results, benchmark=BENCHMARK, seed=0):
    from mvlm_distill.data.synthetic import generate_benchmark

    generate_benchmark(results / "data" / benchmark, seed=seed, n_images={"train": 12, "test": 8},
                       languages=["en", "de"], image_size=32)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A finished tiny results folder: benchmark, teacher, image cache, teacher and init texts, de scores, tables."""
    from mvlm_distill.models import save_model
    from tiny_models import tiny_teacher

    results = tmp_path_factory.mktemp("template") / "results"
    make_benchmark(results)
    save_model(tiny_teacher("clip", results.parent, seed=0), teacher_dir(results))
    cache_images(results)
    for method in ("teacher", "init"):
        embed_texts(results, method)
        score_language(results, method)
    aggregate_tables(results)
    return results


@pytest.fixture
def results(template, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(template, copy)
    return copy


def snapshot(*paths) -> dict:
    """Bytes of every file under ``paths``: compared after a refused step (nothing replaced)."""
    out = {}
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        out.update({p: p.read_bytes() for p in files})
    assert out, paths
    return out


def refused(exc_type, call, *fragments) -> str:
    with pytest.raises(exc_type) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert str(fragment) in message, message
    return message


# --------------------------------------------------------------------------- benchmark tables


def test_deleted_caption_row_is_refused(results):
    from mvlm_distill.data.formats import BenchmarkError

    captions = results / "data" / BENCHMARK / "captions.parquet"
    table = pd.read_parquet(captions)
    table.drop(index=3).to_parquet(captions, index=False)
    before = snapshot(images_cache(results))
    refused(BenchmarkError, lambda: cache_images(results), f"{captions}: differs from the checksum",
            "meta.json", "changed or truncated", "snakemake --forcerun prepare_benchmark")
    assert snapshot(images_cache(results)) == before


def test_truncated_caption_table_is_refused(results):
    from mvlm_distill.data.formats import BenchmarkError

    captions = results / "data" / BENCHMARK / "captions.parquet"
    data = captions.read_bytes()
    captions.write_bytes(data[: len(data) // 2])
    before = snapshot(texts_dir(results))
    refused(BenchmarkError, lambda: embed_texts(results), f"{captions}: differs from the checksum")
    assert snapshot(texts_dir(results)) == before


def test_changed_caption_is_refused_by_scoring(results):
    from mvlm_distill.data.formats import BenchmarkError

    captions = results / "data" / BENCHMARK / "captions.parquet"
    table = pd.read_parquet(captions)
    table.loc[5, "text"] = table.loc[5, "text"] + " again"
    table.to_parquet(captions, index=False)
    before = snapshot(*score_outputs(results).values())
    refused(BenchmarkError, lambda: score_language(results), f"{captions}: differs from the checksum")
    assert snapshot(*score_outputs(results).values()) == before


def test_table_added_after_preparation_is_refused(results):
    from mvlm_distill.data.formats import BenchmarkError, read_benchmark

    root = results / "data" / BENCHMARK
    meta = json.loads((root / "meta.json").read_text())
    del meta["checksums"]["vqa.parquet"]
    (root / "meta.json").write_text(json.dumps(meta))
    refused(BenchmarkError, lambda: read_benchmark(root), f"{root / 'vqa.parquet'}: not listed in the checksums")


# --------------------------------------------------------------------------- weights


def _teacher_weights(results):
    return teacher_dir(results) / "open_clip_model.safetensors"


def test_corrupted_safetensors_header_names_the_file(results):
    from mvlm_distill.models.base import ModelLoadError

    weights = _teacher_weights(results)
    with open(weights, "r+b") as f:
        f.write((2**40).to_bytes(8, "little"))  # the header length: "header too large"
    before = snapshot(texts_dir(results))
    refused(ModelLoadError, lambda: embed_texts(results), f"{weights}: not a readable safetensors file",
            "damaged")
    assert snapshot(texts_dir(results)) == before


def test_nan_weights_are_refused_when_loaded(results):
    from safetensors.torch import load_file, save_file

    from mvlm_distill.models.base import ModelLoadError

    weights = _teacher_weights(results)
    state = load_file(weights)
    name = "text.proj.weight"  # the text projection of the toy open_clip tower
    state[name][0, 0] = float("nan")
    save_file(state, str(weights), metadata={"format": "pt"})
    before = snapshot(images_cache(results))
    refused(ModelLoadError, lambda: cache_images(results), f"{weights}: parameter", "NaN or infinite")
    assert snapshot(images_cache(results)) == before


def test_finite_garbage_in_teacher_then_reembedding_is_refused_by_scoring(results):
    """The issue's silent case: teacher weights changed (finite), `-R embed_texts` re-embeds the teacher row
    with the new teacher while the image cache (and the students) keep the old one."""
    import torch
    from safetensors.torch import load_file, save_file

    from mvlm_distill.io import CacheMismatchError, load_manifest

    weights = _teacher_weights(results)
    old = load_manifest(texts_dir(results))["teacher_fingerprint"]
    state = load_file(weights)
    generator = torch.Generator().manual_seed(0)
    state = {k: v + 0.05 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
             for k, v in state.items()}
    save_file(state, str(weights), metadata={"format": "pt"})
    embed_texts(results)  # Snakemake would have removed the folder first; the job itself succeeds
    new = load_manifest(texts_dir(results))["teacher_fingerprint"]
    assert new != old
    before = snapshot(*score_outputs(results).values())
    refused(CacheMismatchError, lambda: score_language(results),
            f"{texts_dir(results) / 'manifest.json'} (teacher_fingerprint {new!r})",
            f"{images_cache(results)} (teacher_fingerprint {old!r})", "come from different teachers")
    assert snapshot(*score_outputs(results).values()) == before
    # the init row still belongs to the old teacher: scoring it is consistent, and the tables refuse the mix
    score_language(results, "init")
    tables = snapshot(results / "tables")  # made before the change (fixture)
    refused(CacheMismatchError, lambda: aggregate_tables(results),
            f"{texts_dir(results) / 'manifest.json'} (teacher_fingerprint {new!r})",
            f"{texts_dir(results, 'init') / 'manifest.json'} (teacher_fingerprint {old!r})")
    assert snapshot(results / "tables") == tables


@pytest.mark.parametrize("family, weights", [("clip", "open_clip_model.safetensors"), ("siglip2", "model.safetensors")])
def test_weight_files_have_ordinary_permissions(tmp_path, family, weights):
    """safetensors writes 0600 files; save_model gives them the mode of every other output."""
    from mvlm_distill.models import save_model
    from tiny_models import tiny_teacher

    save_model(tiny_teacher(family, tmp_path), tmp_path / "teacher")
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "teacher").rglob("*.safetensors")}
    assert modes == {weights: 0o666 & ~umask}


# --------------------------------------------------------------------------- embeddings


def test_image_cache_of_another_teacher_is_refused(results):
    from mvlm_distill.io import CacheMismatchError
    from mvlm_distill.models import save_model
    from tiny_models import tiny_teacher

    other = results / "teachers" / "other"
    save_model(tiny_teacher("clip", results.parent, seed=1), other)
    cache_images(results, teacher=other)
    before = snapshot(*score_outputs(results).values())
    refused(CacheMismatchError, lambda: score_language(results), texts_dir(results) / "manifest.json",
            images_cache(results), "come from different teachers")
    assert snapshot(*score_outputs(results).values()) == before


def test_embedding_folder_of_another_benchmark_is_refused(results):
    from mvlm_distill.io import CacheMismatchError

    make_benchmark(results, "other", seed=1)
    embed_texts(results, benchmark="other")
    other_texts = texts_dir(results, benchmark="other")
    before = snapshot(*score_outputs(results).values())
    refused(CacheMismatchError, lambda: score_language(results, texts=other_texts),
            f"{other_texts / 'manifest.json'} (checksum", f"{results / 'data' / BENCHMARK / 'meta.json'} (checksum",
            "come from different benchmark tables")
    assert snapshot(*score_outputs(results).values()) == before


def test_nan_embeddings_are_refused_when_written(results):
    from mvlm_distill.io import NonFiniteEmbeddingError, save_text_embeddings

    folder = texts_dir(results)
    before = snapshot(folder)
    distinct = np.ones((3, 4), dtype=np.float32)
    distinct[1, 2] = np.nan
    ids = ["a", "b", "c", "d"]
    refused(NonFiniteEmbeddingError,
            lambda: save_text_embeddings(folder, distinct, [0, 0, 1, 2], ids, [("en", "captions")], [0, 0, 0, 0],
                                         {"model": "toy ED seed0"}),
            f"{folder}: toy ED seed0 gives NaN or infinite embeddings", "the first 'c'", "nothing was written")
    assert snapshot(folder) == before


def test_overflowing_weights_give_nan_embeddings_refused_by_embed_texts(results):
    """Finite but huge weights overflow in the text tower; the embedding step names the model and the first id."""
    from safetensors.torch import load_file, save_file

    from mvlm_distill.io import NonFiniteEmbeddingError

    weights = _teacher_weights(results)
    state = load_file(weights)
    name = "text.proj.weight"
    state[name].fill_(3e38)
    save_file(state, str(weights), metadata={"format": "pt"})
    before = snapshot(texts_dir(results))
    refused(NonFiniteEmbeddingError, lambda: embed_texts(results), "toy teacher gives NaN or infinite embeddings",
            "the first")
    assert snapshot(texts_dir(results)) == before


# --------------------------------------------------------------------------- distillation corpus


def _corpus_caches(results):
    from mvlm_distill.data.corpus import corpus_items, select_by_language
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.io import write_csv

    bench = read_benchmark(results / "data" / BENCHMARK)
    corpus = results / "corpus" / "distillation.csv"
    write_csv(corpus, corpus_items(bench.captions, select_by_language(bench.split_captions("train"),
                                                                       {"en": 1.0, "de": 1.0}, seed=0)))
    caches = results / "caches" / "toy" / "corpus"
    job = Job(results, "cache_teacher_text",
              Files(teacher=[teacher_dir(results)], benchmark=bench_files(results), corpus=corpus),
              Files(teacher_text=caches / "teacher_text.npz", tokens=caches / "tokens.npz"),
              {"spec": SPEC, "batch_size": 64})
    run_script("cache_teacher_text", job)
    train_images = results / "caches" / "toy" / BENCHMARK / "train.images.npz"
    job = Job(results, "cache_images", Files(teacher=[teacher_dir(results)], benchmark=bench_files(results)),
              Files(train_images),
              {"spec": SPEC, "batch_size": 64}, split="train", benchmark=BENCHMARK)
    run_script("cache_images", job)
    return corpus, caches / "teacher_text.npz", caches / "tokens.npz", train_images


def test_distillation_corpus_changed_after_caching_is_refused(results):
    from mvlm_distill.distill.trainer import load_training_corpus
    from mvlm_distill.io import CacheMismatchError, embedding_meta

    corpus, text, tokens, images = _corpus_caches(results)
    fingerprint = embedding_meta(text)["fingerprint"]
    assert len(load_training_corpus(corpus, text, tokens, images, fingerprint).item_ids) > 0
    items = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    items.iloc[: len(items) // 2].to_csv(corpus, index=False)
    refused(CacheMismatchError, lambda: load_training_corpus(corpus, text, tokens, images, fingerprint),
            f"{text}: made for another selection than {corpus}", "--forcerun cache_teacher_text")


def test_distillation_caches_of_two_benchmarks_are_refused(results):
    from mvlm_distill.distill.trainer import load_training_corpus
    from mvlm_distill.io import CacheMismatchError, embedding_meta

    corpus, text, tokens, images = _corpus_caches(results)
    make_benchmark(results, "other", seed=1)
    other_images = results / "caches" / "toy" / "other" / "train.images.npz"
    job = Job(results, "cache_images", Files(teacher=[teacher_dir(results)], benchmark=bench_files(results, "other")),
              Files(other_images), {"spec": SPEC, "batch_size": 64}, split="train", benchmark="other")
    run_script("cache_images", job)
    fingerprint = embedding_meta(text)["fingerprint"]
    refused(CacheMismatchError, lambda: load_training_corpus(corpus, text, tokens, other_images, fingerprint),
            f"{text} (checksum", f"{other_images} (checksum", "come from different benchmark tables")


# --------------------------------------------------------------------------- the results folder


@contextlib.contextmanager
def read_only(folder):
    """``folder`` unwritable for this process: chmod for a normal user, the immutable flag for root
    (root ignores permission bits)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root on a filesystem without the immutable flag: cannot make a folder read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_output_folder_gives_one_sentence(results):
    from mvlm_distill.io import write_csv
    from mvlm_distill.results_folder import unwritable_folder

    tables = results / "tables"
    before = snapshot(tables)
    with read_only(tables):
        assert unwritable_folder([results / "logs" / "x.log", tables / "metrics.csv"]) == (tables, tables / "metrics.csv")
        assert unwritable_folder([tables]) == (tables, tables)  # a folder output is emptied before it is remade
        refused(PermissionError, lambda: write_csv(tables / "metrics.csv", pd.DataFrame({"a": [1]})),
                f"{tables}: folder is not writable, so {tables / 'metrics.csv'} cannot be written")
    assert snapshot(tables) == before and sorted(tables.iterdir()) == sorted(before)
    assert unwritable_folder([tables / "metrics.csv"]) is None


HOLDER = """
import sys, time
from mvlm_distill.results_folder import acquire_lock
acquire_lock(sys.argv[1], workdir=sys.argv[2])
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """Another run (a live process, as from another clone) holding the lock of a results folder."""
    results, clone = tmp_path / "shared-results", tmp_path / "clone-a"
    clone.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(results), str(clone)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "locked"
    yield results, clone, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_second_run_on_the_same_results_folder_is_refused(holder):
    from mvlm_distill.results_folder import LOCK_FILE, ResultsLockError, acquire_lock

    results, clone, proc = holder
    before = snapshot(results / LOCK_FILE)
    message = refused(ResultsLockError, lambda: acquire_lock(results, workdir="."),
                      f"{results.resolve()} is in use by the run of", f"on {socket.gethostname()} (pid {proc.pid},",
                      f"from {clone.resolve()})", f"delete {(results / LOCK_FILE).resolve()}", "snakemake --unlock")
    assert "started 20" in message
    assert snapshot(results / LOCK_FILE) == before


def test_stale_lock_of_a_dead_run_is_replaced(holder, capsys):
    from mvlm_distill.results_folder import LOCK_FILE, acquire_lock, release_lock

    results, _, proc = holder
    proc.kill()
    proc.wait()
    path = acquire_lock(results)
    assert f"Removed the stale lock {path}" in capsys.readouterr().err
    assert json.loads(path.read_text())["pid"] == os.getpid()
    release_lock(path)
    assert not (results / LOCK_FILE).exists()


def test_lock_of_another_host_is_refused_with_how_to_clear_it(tmp_path):
    from mvlm_distill.results_folder import LOCK_FILE, ResultsLockError, acquire_lock

    lock = tmp_path / LOCK_FILE
    lock.write_text(json.dumps({"owner": "alice", "host": "gpu-node-7", "pid": 1, "started": "2026-01-01T00:00:00+00:00",
                                "workdir": "/home/alice/clone"}))
    refused(ResultsLockError, lambda: acquire_lock(tmp_path), "the run of alice on gpu-node-7 (pid 1",
            f"delete {lock.resolve()}")
    assert json.loads(lock.read_text())["owner"] == "alice"


def test_leftover_temporaries_are_removed_and_nothing_else(results):
    """Clean-up removes the project's own temporary names only: a user's dot-files ending in .tmp stay, and a
    nested results folder with a lock of its own (another run's) is not entered."""
    from mvlm_distill.results_folder import LOCK_FILE, remove_stale_temporaries

    stale = [results / "teachers" / ".toy.mvlm-tmp-k2j3h",
             results / "embeddings" / "toy" / "teacher" / "seed0" / ".synthetic.mvlm-tmp-x1",
             results / "caches" / "toy" / BENCHMARK / ".test.images.npz.mvlm-tmp-ab12.npz",
             results / "students" / "toy" / "ED" / ".seed0.mvlm-tmp"]
    users = [results / ".notes.tmp", results / "students" / ".draft.tmp", results / "teachers" / ".tmp-mine"]
    nested = results / "other-run"
    (nested / "teachers" / ".toy.mvlm-tmp-live" / "model").mkdir(parents=True)
    (nested / LOCK_FILE).write_text("{}")
    for path in stale:
        if path.suffix == ".npz":
            path.write_bytes(b"partial")
        else:
            (path / "model").mkdir(parents=True)
            (path / "model" / "weights.safetensors").write_bytes(b"partial")
    for path in users:
        path.write_text("a user's own file")
    kept = snapshot(results)
    kept = {p: b for p, b in kept.items() if not any(s in p.parents or s == p for s in stale)}
    assert sorted(remove_stale_temporaries(results)) == sorted(stale)
    assert not any(p.exists() for p in stale)
    assert snapshot(results) == kept
    assert all(p.exists() for p in users) and (nested / "teachers" / ".toy.mvlm-tmp-live" / "model").is_dir()


# --------------------------------------------------------------------------- the same, through Snakemake

PREPARED = "results/data/synthetic"


def test_workflow_lock_dry_run_stale_lock_temporaries_and_read_only_folder(tmp_path, holder):
    """Through Snakemake (one cheap target): a held results folder refuses the run before any job and leaves the
    outputs alone, a dry run takes no lock, a dead holder's lock and leftover temporaries are cleared by the next
    run, which releases its lock; an unwritable output folder is one sentence, not Snakemake's traceback."""
    from study import project_copy, reduced_config, run_snakemake

    from mvlm_distill.results_folder import LOCK_FILE

    shared, clone_a, proc = holder
    clone_b = project_copy(tmp_path / "clone-b")
    config = reduced_config(results=str(shared))  # clone B points results: at the folder clone A runs in
    make_benchmark(shared)
    before = snapshot(shared / "data")

    run = run_snakemake(clone_b, config, "--forcerun", "prepare_benchmark", "--", f"{shared}/data/synthetic")
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Results folder in use: {shared.resolve()} is in use by the run of "), run.stderr[-2000:]
    assert f"(pid {proc.pid}," in last and f"from {clone_a.resolve()})" in last and "snakemake --unlock" in last
    assert "Traceback" not in run.stderr
    assert snapshot(shared / "data") == before

    dry = run_snakemake(clone_b, config, "-n", "--forcerun", "prepare_benchmark", "--",
                        f"{shared}/data/synthetic")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert json.loads((shared / LOCK_FILE).read_text())["pid"] == proc.pid  # untouched by the dry run

    proc.kill()
    proc.wait()
    leftover = shared / "teachers" / ".toy.mvlm-tmp-killed"
    (leftover / "model").mkdir(parents=True)
    done = run_snakemake(clone_b, config, "--forcerun", "prepare_benchmark", "--", f"{shared}/data/synthetic")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Removed the stale lock {shared / LOCK_FILE} of the run of" in done.stderr
    assert "Removed 1 temporary file(s)/folder(s) that killed jobs left under" in done.stdout
    assert not leftover.exists() and not (shared / LOCK_FILE).exists()

    # a file output in a folder this process cannot write (a write-protected folder output, such as
    # the prepared benchmark, Snakemake refuses itself: ProtectedOutputException)
    selected = run_snakemake(clone_b, config, "--", f"{shared}/corpus/distillation.csv")
    assert selected.returncode == 0, selected.stderr[-3000:]
    folder = shared / "corpus"
    before = snapshot(folder)
    with read_only(folder):
        denied = run_snakemake(clone_b, config, "--forcerun", "select_corpus", "--",
                               f"{shared}/corpus/distillation.csv")
    assert denied.returncode == 1
    assert denied.stderr.strip().splitlines()[-1] == (
        f"Results folder not writable: {folder} is not writable, so {folder / 'distillation.csv'} cannot be written; "
        "make it writable (chmod u+w) or set results: to a folder you can write.")
    assert "Traceback" not in denied.stderr
    assert snapshot(folder) == before
    assert not (shared / LOCK_FILE).exists()


def _write_finite_garbage(weights, tensor: str, seed: int = 0) -> None:
    """Overwrite one tensor's bytes inside the file, in place (the folder's mtime stays, as with a stray write)."""
    import struct

    with open(weights, "r+b") as f:
        header_size = struct.unpack("<Q", f.read(8))[0]
        entry = json.loads(f.read(header_size))[tensor]
        assert entry["dtype"] == "F32", entry
        start, end = entry["data_offsets"]
        garbage = np.random.default_rng(seed).normal(0, 0.05, (end - start) // 4).astype("<f4")
        f.seek(8 + header_size + start)
        f.write(garbage.tobytes())


@pytest.mark.slow
def test_corrupted_teacher_rerun_is_refused_while_a_second_clone_is_locked_out(reduced_study, tmp_path):
    """The issue's two cases on the reduced study. Clone A: finite garbage written into the teacher's weights,
    then `-R embed_texts`: the teacher row is re-embedded with the changed teacher, and scoring refuses it against
    the image cache of the old one (exit 1, tables untouched). Clone B, whose config points `results:` at A's
    folder, starts while A runs: refused before any job, without touching A's outputs."""
    from study import project_copy, reduced_config, run_snakemake

    from mvlm_distill.results_folder import LOCK_FILE

    clone_a = tmp_path / "clone-a"
    shutil.copytree(reduced_study, clone_a, symlinks=True)
    results = clone_a / "results"
    _write_finite_garbage(results / "teachers" / "toy-clip" / "open_clip_model.safetensors", "text.proj.weight")
    tables = snapshot(results / "tables")
    students = snapshot(results / "students")
    cfg_a = clone_a / "study.yaml"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    a = subprocess.Popen([sys.executable, "-m", "snakemake", "--configfile", str(cfg_a), "--cores", "2", "--quiet",
                          "--forcerun", "embed_texts"], cwd=clone_a, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not (results / LOCK_FILE).exists() and a.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert (results / LOCK_FILE).exists(), "clone A never took the lock"
        clone_b = project_copy(tmp_path / "clone-b")
        # B has a job to run in A's folder (Snakemake would first delete A's tables it replaces)
        b = run_snakemake(clone_b, reduced_config(results=str(results.resolve())), "--forcerun", "aggregate_tables")
        out_a, err_a = a.communicate(timeout=1500)
    finally:
        if a.poll() is None:
            a.kill()
    assert b.returncode == 1
    assert b.stderr.strip().splitlines()[-1].startswith(
        f"Results folder in use: {results.resolve()} is in use by the run of "), b.stderr[-2000:]
    assert f"from {clone_a.resolve()})" in b.stderr
    assert not (clone_b / "results").exists()

    assert a.returncode == 1, err_a[-3000:]
    refusals = [line for line in err_a.splitlines() if line.startswith("CacheMismatchError: ")]
    assert refusals, err_a[-3000:]
    assert "come from different teachers" in refusals[0] and ".images.npz (teacher_fingerprint" in refusals[0]
    assert snapshot(results / "tables") == tables and snapshot(results / "students") == students
    assert not (results / LOCK_FILE).exists(), "clone A's lock outlived its failed run"
