"""Parity with the reference implementations themselves (test-only pins in requirements-test.txt):
CLIP_benchmark's ``zeroshot_retrieval.evaluate`` on an exported CLIP student, and mteb's retrieval
evaluation through ``mvlm_distill.evaluate.mteb_adapter``, give the project's R@K under the matching
protocol (docs/analysis.md, "Protocols").

The benchmark is in the project's format: 16 tiny images, two captions per image and language, the
second one the same text for every image, so that i2t ties straddle rank k (as identical captions of
two images do in real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mvlm_distill.data.formats import read_benchmark, write_benchmark
from mvlm_distill.distill.encode import encode_distinct, encode_images
from mvlm_distill.evaluate.score import metrics_table, score_language
from mvlm_distill.export import export_student, stock_open_clip
from mvlm_distill.models import build_student, load_model, save_model

from mteb_local import write_mteb_xm3600
from tiny_models import tiny_images_and_captions, tiny_teacher

LANGUAGES = ("en", "de", "ja")
GENERIC = {"en": "a square", "de": "ein Quadrat", "ja": "四角があります"}
KS = (1, 5, 10)
N_IMAGES = 16


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """``(benchmark folder, saved student, export folder)`` of a tiny CLIP student."""
    work = tmp_path_factory.mktemp("parity")
    teacher = tiny_teacher("clip", work, seed=3)
    student = build_student(teacher, [0, 2])
    with torch.no_grad():  # a student that differs from its teacher's layers, as after distillation
        for p in student.text_parameters():
            p.add_(0.05 * torch.randn_like(p, generator=torch.Generator().manual_seed(0)))
    save_model(student, work / "student")
    images, pairs = tiny_images_and_captions(N_IMAGES, LANGUAGES)
    root = work / "bench"
    (root / "images").mkdir(parents=True)
    image_rows, caption_rows = [], []
    for i, im in enumerate(images):
        image_id = f"test-{i:05d}"
        im.save(root / "images" / f"{image_id}.png")
        image_rows.append({"image_id": image_id, "split": "test", "file": f"images/{image_id}.png"})
    for language in LANGUAGES:  # captions grouped by image, in image order (CLIP_benchmark's text order)
        texts = [text for k, (_, text) in enumerate(pairs) if k % len(LANGUAGES) == LANGUAGES.index(language)]
        for i, text in enumerate(texts):
            for j, caption in enumerate((text, GENERIC[language])):
                caption_rows.append({"image_id": f"test-{i:05d}", "split": "test", "language": language,
                                     "caption_id": f"test-{i:05d}-{language}-{j}", "parallel_id": "",
                                     "text": caption})
    write_benchmark(root, pd.DataFrame(image_rows), pd.DataFrame(caption_rows), None,
                    {"name": "parity", "languages": list(LANGUAGES), "splits": ["test"], "source": "tests"})
    export = work / "export"
    export_student(work / "student", export, check_texts=[t for _, t in pairs[:6]])
    return root, work / "student", export


def project_metrics(study, language, protocol):
    """The project's metric rows of one language: the pipeline's encoders and scorer."""
    root, student_dir, _ = study
    bench = read_benchmark(root)
    model = load_model({"source": "saved", "path": str(student_dir)})
    captions = bench.split_captions("test", language)
    distinct, inverse = encode_distinct(model, captions["text"].tolist(), batch_size=8)
    gallery = bench.split_images("test")
    image_emb = encode_images(model, [bench.image_path(i) for i in gallery["image_id"]], batch_size=8)
    ranks = score_language(distinct[inverse], captions["caption_id"].tolist(), image_emb,
                           gallery["image_id"].tolist(), captions, protocol=protocol)
    return ranks, metrics_table(ranks, n_boot=0, protocol=protocol)


def optimistic_i2t_ranks(study, language, queries):
    """i2t ranks with every tie broken for the query: 1 + #(captions of other images scoring higher)."""
    from mvlm_distill.evaluate.score import protocol_captions
    from mvlm_distill.evaluate.similarity import cosine_matrix

    root, student_dir, _ = study
    bench = read_benchmark(root)
    model = load_model({"source": "saved", "path": str(student_dir)})
    captions = protocol_captions(bench.split_captions("test", language), {"queries": queries})
    distinct, inverse = encode_distinct(model, captions["text"].tolist(), batch_size=8)
    gallery = bench.split_images("test")["image_id"].tolist()
    sim = cosine_matrix(encode_images(model, [bench.image_path(i) for i in gallery], batch_size=8),
                        distinct[inverse])
    own = captions["image_id"].to_numpy()[None, :] == np.array(gallery)[:, None]
    best = np.where(own, sim, -np.inf).max(axis=1)
    return 1 + ((sim > best[:, None]) & ~own).sum(axis=1)


def value(metrics, task, k):
    return float(metrics.loc[(metrics.task == task) & (metrics.metric == f"R@{k}"), "value"].iloc[0])


# ----------------------------------------------------------------------------- CLIP_benchmark


def clip_benchmark_recalls(study, language, queries):
    """CLIP_benchmark's own evaluate() on the export, loaded by stock open_clip, over one language."""
    from clip_benchmark.metrics import zeroshot_retrieval

    root, _, export = study
    bench = read_benchmark(root)
    model, preprocess, tokenizer = stock_open_clip(export)  # open_clip's API only, as the card's snippet
    captions = bench.split_captions("test", language)
    items = []
    for image_id in bench.split_images("test")["image_id"]:
        texts = captions.loc[captions.image_id == image_id, "text"].tolist()
        pixels = preprocess(load_image(bench.image_path(image_id)))
        items.append((pixels, texts[:1] if queries == "first" else texts))

    def collate(batch):  # CLIP_benchmark's image_captions_collate_fn
        return torch.stack([b[0] for b in batch]), [b[1] for b in batch]

    # one batch: identical texts then get identical embeddings (across batches they differ in the last bits)
    loader = torch.utils.data.DataLoader(items, batch_size=len(items), collate_fn=collate)
    out = zeroshot_retrieval.evaluate(model.eval(), loader, tokenizer, "cpu", amp=False, recall_k_list=list(KS))
    return {(task, k): out[f"{name}_retrieval_recall@{k}"]
            for task, name in (("t2i", "image"), ("i2t", "text")) for k in KS}


def load_image(path):
    from mvlm_distill.data.formats import load_image as load

    return load(path)


def straddling(low, high, k):
    """Queries whose tie straddles rank k: a hit with the tie broken for them, a miss against them."""
    return int(((low <= k) & (high > k)).sum())


@pytest.mark.parametrize("queries", ["all", "first"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_clip_benchmark_equals_the_projects_recall(study, language, queries):
    """Exactly wherever no tie straddles rank k: t2i always (no two images score the same), i2t over
    first captions (distinct texts). Where identical captions of two images tie across rank k (i2t, all
    captions), CLIP_benchmark hits some of those queries: torch.topk's order among equal scores is its
    own (not index order on CPU), so its value lies between the pessimistic and the optimistic one."""
    tied = check_reference(study, language, queries, clip_benchmark_recalls(study, language, queries))
    assert queries == "all" or tied == 0
    if queries == "all" and language == "en":
        assert tied > 0, "the fixture has no tie across rank k: the test would show nothing"


def check_reference(study, language, queries, reference) -> int:
    """Assert ``reference`` ({(task, k): R@k}) equals the project's R@K where no tie straddles k and lies
    between the pessimistic and optimistic values where one does; returns the straddling queries."""
    index_ranks, index = project_metrics(study, language, {"queries": queries, "ties": "index"})
    ranks, pessimistic = project_metrics(study, language, {"queries": queries, "ties": "pessimistic"})
    best = optimistic_i2t_ranks(study, language, queries)
    tied = 0
    for (task, k), expected in reference.items():
        high = ranks.loc[ranks.task == task, "rank"].to_numpy()
        n = straddling(best if task == "i2t" else high, high, k)
        tied += n
        if n == 0:
            assert value(index, task, k) == value(pessimistic, task, k) == pytest.approx(expected, abs=1e-5), (task, k)
        else:
            assert value(pessimistic, task, k) - 1e-5 <= expected <= value(pessimistic, task, k) + n / len(high) + 1e-5
            assert value(pessimistic, task, k) <= value(index, task, k) <= value(pessimistic, task, k) + n / len(high)
    return tied


# ----------------------------------------------------------------------------- mteb


def mteb_scores(study, tmp_path, task_name):
    """mteb.evaluate of the student (through PipelineEncoder) on mteb's own task class, data local."""
    import mteb

    from mvlm_distill.evaluate.mteb_adapter import PipelineEncoder

    root, student_dir, _ = study
    local = tmp_path / "xm3600"
    if not local.exists():
        write_mteb_xm3600(read_benchmark(root), local, LANGUAGES)
    task = mteb.get_task(task_name, hf_subsets=list(LANGUAGES))
    task.metadata = task.metadata.model_copy(update={"dataset": {"path": str(local), "revision": "local"}})
    encoder = PipelineEncoder(load_model({"source": "saved", "path": str(student_dir)}), "mvlm/tiny-student")
    result = mteb.evaluate(encoder, task, cache=None, show_progress_bar=False, encode_kwargs={"batch_size": 8})
    scores = {row["hf_subset"]: row for row in result.task_results[0].scores["test"]}
    return scores, encoder


@pytest.mark.parametrize("task_name,task", [("XM3600T2IRetrieval", "t2i"), ("XM3600I2TRetrieval", "i2t")])
def test_mteb_through_the_adapter_equals_the_projects_recall(study, tmp_path, task_name, task):
    """mteb's own XM3600 task classes (every caption a query; i2t ``hit_rate_at_k``: any caption of the
    image in the top k, rounded to 5 decimals) on a local copy in mteb's format: the project's R@K, as
    CLIP_benchmark's (ties between identical captions are broken by mteb's heap of (score, id))."""
    scores, encoder = mteb_scores(study, tmp_path, task_name)
    assert encoder.image_encodings == N_IMAGES  # once per model, not once per language
    for language in LANGUAGES:
        reference = {(task, k): scores[language][f"hit_rate_at_{k}"] for k in KS}
        check_reference(study, language, "all", reference)
