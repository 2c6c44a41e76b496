"""Item 1: distillation steps/s with cached teacher outputs versus the naive online way.

Both variants run the project's own loop, ``mvlm_distill.distill.trainer.distill``, with the
same student, loss (DR+ED: needs T(x), T(e) and V(I)), batch size, settings and thread count.
They differ only in where the teacher tensors of a batch come from:

* ``cached``: the project's way. The teacher's text embeddings and token ids of the corpus and
  the image embeddings are computed once (as the ``cache_teacher_text`` and ``cache_images``
  rules do), written to ``.npz`` and read back with ``load_training_corpus``; every step
  indexes rows of those tensors. The one-time cost is measured too (``cache_seconds``).
* ``online``: the naive way, cheapest form. ``TrainingCorpus.teacher_text``/``teacher_english``/
  ``image`` are views whose ``__getitem__`` runs the teacher's text tower on x and on e and its
  image tower on the batch's images inside every step (under ``torch.no_grad``). Token ids and
  image pixels are prepared once beforehand, so only the teacher's forward passes are repeated.
* ``online_full``: the naive way as a plain training loop over (image file, caption, English
  caption) items does it: every step also tokenises the batch's captions and decodes and
  preprocesses its image files before the teacher's forward passes.

The variants alternate (cached, online, online_full, cached, ...) so that load from other
processes hits all alike; ratios use the best (fastest) repeat of each. Wall time and process
CPU time are both recorded: with one thread, CPU time is the less noisy of the two on a shared
machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import default_config, log, make_toy_setup, timed

METHOD = {"DR": 1.0, "ED": 1.0}
# A batch where the matrix work dominates, as on a GPU (the default study distils at 16, where
# per-step overheads weigh more); kept fixed so results stay comparable across commits.
BATCH_SIZE = 128


class _OnlineText:
    """``corpus.teacher_text[idx]`` computed by the teacher's text tower at every access."""

    def __init__(self, teacher, input_ids, attention_mask):
        self.teacher, self.input_ids, self.attention_mask = teacher, input_ids, attention_mask
        self.rows = 0

    def __getitem__(self, idx):
        import torch

        with torch.no_grad():
            tokens = {"input_ids": self.input_ids[idx], "attention_mask": self.attention_mask[idx]}
            self.rows += len(idx)
            return self.teacher.encode_text(tokens).float()


class _OnlineImage:
    """``corpus.image[idx]`` computed by the teacher's image tower at every access."""

    def __init__(self, teacher, pixels, item_image):
        self.teacher, self.pixels, self.item_image = teacher, pixels, item_image
        self.rows = 0

    def __getitem__(self, idx):
        import torch

        from mvlm_distill.models.pretrain import _index_pixels

        with torch.no_grad():
            rows = self.item_image[idx]
            self.rows += len(idx)
            return self.teacher.encode_image(_index_pixels(self.pixels, rows)).float()


class _TokenizeEveryStep:
    """Token ids of a batch, tokenised at the first access of the step (shared by the views)."""

    def __init__(self, teacher, texts, english_texts):
        self.teacher, self.texts, self.english_texts = teacher, texts, english_texts
        self._idx, self._tokens = None, None

    def tokens(self, idx):
        if self._idx is not idx:
            rows = idx.tolist()
            self._tokens = (self.teacher.tokenize([self.texts[i] for i in rows]),
                            self.teacher.tokenize([self.english_texts[i] for i in rows]))
            self._idx = idx
        return self._tokens

    def view(self, english: bool, key: str):
        outer = self

        class _View:
            def __getitem__(self, idx):
                return outer.tokens(idx)[int(english)][key]

        return _View()


class _OnlineTextFromRaw:
    def __init__(self, teacher, tokenizer: _TokenizeEveryStep, english: bool):
        self.teacher, self.tokenizer, self.english = teacher, tokenizer, english

    def __getitem__(self, idx):
        import torch

        with torch.no_grad():
            return self.teacher.encode_text(self.tokenizer.tokens(idx)[int(self.english)]).float()


class _OnlineImageFromFiles:
    def __init__(self, teacher, paths):
        self.teacher, self.paths = teacher, paths

    def __getitem__(self, idx):
        import torch

        from mvlm_distill.data.formats import load_image

        with torch.no_grad():
            pixels = self.teacher.preprocess([load_image(self.paths[i]) for i in idx.tolist()])
            return self.teacher.encode_image(pixels).float()


def build_corpora(setup: dict, family: str, work: Path, batch_size: int) -> tuple:
    """The cached corpus (through the project's cache files) and the online one; returns both and
    the one-time cache cost in seconds."""
    import numpy as np
    import pandas as pd
    import torch

    from mvlm_distill.data.corpus import corpus_items, select_by_language
    from mvlm_distill.data.formats import benchmark_checksum, load_image
    from mvlm_distill.distill.encode import encode_images, encode_tokens, tokenize_texts
    from mvlm_distill.distill.trainer import TrainingCorpus, load_training_corpus
    from mvlm_distill.io import save_embeddings
    from mvlm_distill.models.pretrain import preprocess_all

    cfg = default_config()
    bench, teacher = setup["bench"], setup["teachers"][family]
    captions = bench.split_captions("train")
    fractions = cfg["distillation"]["language_fraction"]
    items = corpus_items(bench.captions, select_by_language(captions, fractions, seed=0))
    d = work / f"cache-{family}"
    d.mkdir(parents=True, exist_ok=True)
    items.to_csv(d / "distillation.csv", index=False)

    cost: dict = {}
    with timed(cost, "cache_seconds"):  # what cache_teacher_text + cache_images pay once
        needed = pd.unique(pd.concat([items["caption_id"], items["english_caption_id"]]))
        texts = bench.captions.set_index("caption_id").loc[needed, "text"].tolist()
        tokens = tokenize_texts(teacher, texts)
        emb = encode_tokens(teacher, tokens, 256, "cpu")
        fp = teacher.fingerprint()
        provenance = {"fingerprint": fp, "teacher_fingerprint": fp, "checksum": benchmark_checksum(bench.root)}
        save_embeddings(d / "teacher_text.npz", emb, list(needed), provenance)
        with open(d / "tokens.npz", "wb") as f:
            np.savez(f, ids=np.asarray(needed, dtype=str), **{k: v.numpy() for k, v in tokens.items()})
        image_ids = bench.split_images("train")["image_id"].tolist()
        img = encode_images(teacher, [bench.image_path(i) for i in image_ids], 256, "cpu")
        save_embeddings(d / "images.npz", img, image_ids, provenance)
    cached = load_training_corpus(d / "distillation.csv", d / "teacher_text.npz", d / "tokens.npz",
                                  d / "images.npz", fingerprint=fp)

    # online: same tokens; pixels of the corpus images preprocessed once (cheapest online variant)
    used = sorted(set(items["image_id"]))
    pixels = preprocess_all(teacher, [load_image(bench.image_path(i)) for i in used])
    pos = {iid: k for k, iid in enumerate(used)}
    item_image = torch.as_tensor(np.array([pos[i] for i in items["image_id"]]))
    online = TrainingCorpus(
        item_ids=cached.item_ids,
        input_ids=cached.input_ids,
        attention_mask=cached.attention_mask,
        english_input_ids=cached.english_input_ids,
        english_attention_mask=cached.english_attention_mask,
        teacher_text=_OnlineText(teacher, cached.input_ids, cached.attention_mask),
        teacher_english=_OnlineText(teacher, cached.english_input_ids, cached.english_attention_mask),
        image=_OnlineImage(teacher, pixels, item_image),
    )
    text = bench.captions.set_index("caption_id")["text"]
    tokenizer = _TokenizeEveryStep(teacher, text.loc[items["caption_id"]].tolist(),
                                   text.loc[items["english_caption_id"]].tolist())
    online_full = TrainingCorpus(
        item_ids=cached.item_ids,
        input_ids=tokenizer.view(False, "input_ids"),
        attention_mask=tokenizer.view(False, "attention_mask"),
        english_input_ids=tokenizer.view(True, "input_ids"),
        english_attention_mask=tokenizer.view(True, "attention_mask"),
        teacher_text=_OnlineTextFromRaw(teacher, tokenizer, False),
        teacher_english=_OnlineTextFromRaw(teacher, tokenizer, True),
        image=_OnlineImageFromFiles(teacher, [bench.image_path(i) for i in items["image_id"]]),
    )
    corpora = {"cached": cached, "online": online, "online_full": online_full}
    return corpora, cost["cache_seconds"], len(items)


def run_once(setup, family, corpus, steps, batch_size, work: Path, tag: str) -> tuple[float, float]:
    """One distillation run of ``steps`` steps; returns (wall seconds, process CPU seconds)."""
    import torch

    from mvlm_distill.distill.losses import build_loss
    from mvlm_distill.distill.trainer import TrainingSettings, distill
    from mvlm_distill.models import build_student

    cfg = default_config()["distillation"]
    teacher = setup["teachers"][family]
    torch.manual_seed(0)
    student = build_student(teacher, [0, 2])
    loss_fn = build_loss(METHOD, teacher.family, **cfg.get("temperatures", {}))
    settings = TrainingSettings.from_config(cfg, seed=0, steps=steps, batch_size=batch_size,
                                            warmup_steps=min(cfg.get("warmup_steps", 0), steps),
                                            checkpoint_every=10 * steps + 1)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=work))
    start, cpu = time.perf_counter(), time.process_time()
    distill(student, corpus, loss_fn, settings, logit_scale=teacher.logit_scale, logit_bias=teacher.logit_bias,
            family=teacher.family, state_dir=run_dir / "state", log_path=run_dir / "loss_log.csv",
            device="cpu", progress=False)
    return time.perf_counter() - start, time.process_time() - cpu


def run(work: Path, *, steps: int = 20, batch_size: int | None = None, repeats: int = 2,
        families=("clip", "siglip2"), setup: dict | None = None) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    batch_size = batch_size or BATCH_SIZE
    setup = setup or make_toy_setup(work, families=families)
    rows = []
    for family in families:
        corpora, cache_seconds, n_items = build_corpora(setup, family, work, batch_size)
        times = {variant: [] for variant in corpora}
        cpu = {variant: [] for variant in corpora}
        for variant, corpus in corpora.items():  # warm-up, not measured
            run_once(setup, family, corpus, 2, batch_size, work, f"warm-{variant}")
        for r in range(repeats):
            for variant, corpus in corpora.items():
                seconds, cpu_seconds = run_once(setup, family, corpus, steps, batch_size, work,
                                                f"{family}-{variant}-{r}")
                times[variant].append(seconds)
                cpu[variant].append(cpu_seconds)
                log(f"  distill {family} {variant} repeat {r}: {steps} steps in {seconds:.2f} s "
                    f"({steps / seconds:.2f} steps/s)")
        best = {v: min(t) for v, t in times.items()}
        best_cpu = {v: min(t) for v, t in cpu.items()}
        for variant in corpora:
            rows.append({
                "family": family,
                "variant": variant,
                "method": "DR+ED",
                "batch_size": batch_size,
                "steps": steps,
                "threads": torch.get_num_threads(),
                "corpus_items": n_items,
                "repeats": repeats,
                "seconds_best": round(best[variant], 3),
                "seconds_median": round(statistics.median(times[variant]), 3),
                "steps_per_s": round(steps / best[variant], 3),
                "speedup_of_cached": round(best[variant] / best["cached"], 3),
                "cpu_seconds_best": round(best_cpu[variant], 3),
                "speedup_of_cached_cpu": round(best_cpu[variant] / best_cpu["cached"], 3),
                "one_time_cache_seconds": round(cache_seconds, 3) if variant == "cached" else "",
                "break_even_steps": (round(cache_seconds / (best["online"] / steps - best["cached"] / steps), 1)
                                     if variant == "cached" and best["online"] > best["cached"] else ""),
            })
        log(f"distill {family}: " + ", ".join(f"{v} {steps / b:.2f} steps/s" for v, b in best.items())
            + f"; cached is {best['online'] / best['cached']:.2f}x online, {best['online_full'] / best['cached']:.2f}x "
            f"online_full (one-time cache {cache_seconds:.1f} s)")
    return rows
