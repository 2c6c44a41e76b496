"""Pretraining a toy teacher on image-caption pairs with its family's own loss.

* ``clip``: open_clip ``ClipLoss`` (softmax contrastive, symmetric) with the learned
  temperature clamped at 100 as open_clip does;
* ``siglip2``: open_clip ``SigLipLoss`` (pairwise sigmoid) with learned scale and bias.

AdamW and its schedule as in distillation (``mvlm_distill.optim``; warmup over a tenth of the
steps unless given), a fixed
seed, one batch = distinct images each with one of its captions (pairs shuffled per
epoch; a pair whose image is already in the batch waits for a later batch, so the loss
never sees a false negative of the same image). Deterministic on CPU.
"""

from __future__ import annotations

import collections
import csv
import math
import sys
import time
from pathlib import Path

import torch

from ..definitions import FAMILIES
from ..optim import adamw, apply_schedule
from .base import VisionLanguageModel, unique_parameters

LOG_COLUMNS = ("step", "lr", "loss", "logit_scale", "logit_bias", "seconds")


def _index_pixels(pixels, idx: torch.Tensor):
    if isinstance(pixels, dict):
        return {k: v[idx] for k, v in pixels.items()}
    return pixels[idx]


def _n_pixels(pixels) -> int:
    if isinstance(pixels, dict):
        return len(next(iter(pixels.values())))
    return len(pixels)


def shift_images(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Translate each image of a (B, C, H, W) batch by up to ``max_shift`` pixels (edges replicated)."""
    b, _, h, w = x.shape
    m = int(max_shift)
    padded = torch.nn.functional.pad(x, (m, m, m, m), mode="replicate")
    dy = torch.randint(0, 2 * m + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * m + 1, (b,), generator=g)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    return padded[torch.arange(b)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]


def shift_pixels(pixels, max_shift: int, g: torch.Generator):
    """``shift_images`` for ``preprocess`` output: a (B, C, H, W) tensor, or NaFlex patches
    (``pixel_values`` (B, N, p*p*C) in Siglip2ImageProcessor's order, ``spatial_shapes``) when
    every image of the batch has the same patch grid; anything else is returned unchanged."""
    if max_shift <= 0:
        return pixels
    if not isinstance(pixels, dict):
        return shift_images(pixels, max_shift, g) if pixels.ndim == 4 else pixels
    shapes = pixels.get("spatial_shapes")
    values = pixels.get("pixel_values")
    if shapes is None or values is None or values.ndim != 3 or not bool((shapes == shapes[0]).all()):
        return pixels
    nh, nw = (int(v) for v in shapes[0])
    b, n, d = values.shape
    p = int(round((d / 3) ** 0.5))
    if p * p * 3 != d or nh * nw > n:
        return pixels
    grid = values[:, :nh * nw].reshape(b, nh, nw, p, p, 3).permute(0, 5, 1, 3, 2, 4).reshape(b, 3, nh * p, nw * p)
    grid = shift_images(grid, max_shift, g)
    patches = grid.reshape(b, 3, nh, p, nw, p).permute(0, 2, 4, 3, 5, 1).reshape(b, nh * nw, d)
    return {**pixels, "pixel_values": torch.cat([patches, values[:, nh * nw:]], dim=1)}


def preprocess_all(model: VisionLanguageModel, images, chunk: int = 512):
    """Run ``model.preprocess`` over a list of PIL images in chunks and concatenate."""
    parts = [model.preprocess(images[i:i + chunk]) for i in range(0, len(images), chunk)]
    if isinstance(parts[0], dict):
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)


def tokenize_all(model: VisionLanguageModel, texts: list[str], chunk: int = 4096) -> dict[str, torch.Tensor]:
    parts = [model.tokenize(texts[i:i + chunk]) for i in range(0, len(texts), chunk)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


class _BatchSampler:
    """Batches of distinct images, each paired with one of its captions; pairs reshuffled each epoch."""

    def __init__(self, image_idx: torch.Tensor, batch_size: int, generator: torch.Generator):
        self.image_idx = image_idx.tolist()
        self.batch_size = min(batch_size, len(set(self.image_idx)))
        self.g = generator
        self.queue: collections.deque[int] = collections.deque()
        self.epoch = 0

    def next(self) -> torch.Tensor:
        batch, seen, waiting = [], set(), []
        while len(batch) < self.batch_size:
            if not self.queue:  # a new epoch; every image occurs in it, so the batch always fills
                self.queue.extend(torch.randperm(len(self.image_idx), generator=self.g).tolist())
                self.epoch += 1
            pair = self.queue.popleft()
            img = self.image_idx[pair]
            if img in seen:
                waiting.append(pair)
                continue
            seen.add(img)
            batch.append(pair)
        self.queue.extendleft(reversed(waiting))
        return torch.tensor(batch, dtype=torch.long)


def make_loss(family: str):
    from open_clip.loss import ClipLoss, SigLipLoss

    return ClipLoss() if family == "clip" else SigLipLoss()


def hard_negative_loss(family: str, img: torch.Tensor, txt: torch.Tensor, scale, bias=None) -> torch.Tensor:
    """The family's loss with extra negative captions (NegCLIP, Yuksekgonul et al., ICLR 2023).

    ``img``: B image embeddings; ``txt``: their B captions, then N hard negatives (captions of other
    scenes, e.g. two objects' attributes swapped). ``clip``: image-to-text softmax over all B + N
    texts, text-to-image over the B images only (the negatives have no image); ``siglip2``: the
    sigmoid loss over all B x (B + N) pairs, only the diagonal positive, summed and divided by B as
    open_clip's ``SigLipLoss``."""
    import torch.nn.functional as F

    n = img.shape[0]
    logits = scale * img @ txt.T
    labels = torch.arange(n, device=img.device)
    if family == "clip":
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits[:, :n].T, labels)) / 2
    signs = -torch.ones_like(logits)
    signs[labels, labels] = 1.0
    return -F.logsigmoid(signs * (logits + bias)).sum() / n


def pretrain_teacher(model: VisionLanguageModel, images, pairs: list[tuple[int, str]], *, steps: int,
                     batch_size: int, lr: float, seed: int, log_path=None, progress: bool = True,
                     warmup: int | None = None, weight_decay: float = 0.1, log_every: int = 10,
                     callback=None, callback_every: int = 0, augment_shift: int = 0,
                     loss: str | None = None, hard_negatives: list[str | None] | None = None) -> dict:
    """Train ``model`` in place on ``pairs`` (image index into ``images``, caption text).

    ``images`` is a list of PIL images or ``model.preprocess`` output for all of them.
    Returns a summary: steps, seconds, seconds_per_step, first/last losses, final logit scale/bias.
    ``log_path`` (optional): a CSV with ``step, lr, loss, logit_scale, logit_bias, seconds``.
    ``augment_shift``: translate each training image by up to this many pixels (0: off).
    ``hard_negatives`` (optional): per pair, a caption of another scene to rank below its image, or
    None (:func:`hard_negative_loss`; the recipe's ``pretraining.hard_negatives``, a diagnostic).
    ``callback(step, model)`` (optional) is called every ``callback_every`` steps and after the
    last one, in eval mode under ``torch.no_grad``; what it returns is collected under ``"callbacks"``.
    """
    if steps < 1 or batch_size < 2:
        raise ValueError(f"pretrain_teacher needs steps >= 1 and batch_size >= 2 (got {steps}, {batch_size})")
    if not pairs:
        raise ValueError("pretrain_teacher: no image-caption pairs")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    t_start = time.perf_counter()

    pixels = preprocess_all(model, images) if isinstance(images, (list, tuple)) else images
    n_images = _n_pixels(pixels)
    texts = sorted({t for _, t in pairs})
    text_row = {t: i for i, t in enumerate(texts)}
    negatives = hard_negatives or [None] * len(pairs)
    if len(negatives) != len(pairs):
        raise ValueError("pretrain_teacher: hard_negatives must have one entry (a text or None) per pair")
    neg_texts = sorted({t for t in negatives if t is not None} - set(text_row))
    texts += neg_texts
    text_row.update({t: len(text_row) + i for i, t in enumerate(neg_texts)})
    tokens = tokenize_all(model, texts)
    neg_idx = torch.tensor([-1 if t is None else text_row[t] for t in negatives], dtype=torch.long)
    image_idx = torch.tensor([int(i) for i, _ in pairs], dtype=torch.long)
    text_idx = torch.tensor([text_row[t] for _, t in pairs], dtype=torch.long)
    if int(image_idx.max()) >= n_images or int(image_idx.min()) < 0:
        raise ValueError(f"pretrain_teacher: image index out of range 0..{n_images - 1}")

    loss_kind = loss or model.family  # "clip" or "siglip2"; a diagnostic override of the family's loss
    if loss_kind not in FAMILIES:
        raise ValueError(f"pretrain_teacher: loss {loss!r} is not 'clip' or 'siglip2'")
    loss_fn = make_loss(loss_kind)
    warmup = max(1, steps // 10) if warmup is None else max(1, int(warmup))
    for p in unique_parameters(model.model):
        p.requires_grad_(True)
    opt = adamw(model.model.named_parameters(), lr, weight_decay, betas=(0.9, 0.98), eps=1e-6)
    sampler = _BatchSampler(image_idx, batch_size, g)
    scale_p, bias_p = model._logit_scale_param(), model._logit_bias_param()
    model.train()

    rows, losses, called = [], [], []
    t0 = time.perf_counter()
    for step in range(steps):
        cur_lr = apply_schedule(opt, step, steps, lr, warmup)
        batch = sampler.next()
        img = model.encode_image(shift_pixels(_index_pixels(pixels, image_idx[batch]), augment_shift, g))
        neg = neg_idx[batch]
        text_rows = torch.cat([text_idx[batch], neg[neg >= 0]])
        txt = model.encode_text({k: v[text_rows] for k, v in tokens.items()})
        scale = scale_p.exp()
        if len(text_rows) > len(batch):
            loss_value = hard_negative_loss(loss_kind, img, txt, scale, bias_p)
        elif loss_kind == "clip":
            loss_value = loss_fn(img, txt, scale)
        else:
            loss_value = loss_fn(img, txt, scale, bias_p)
        opt.zero_grad(set_to_none=True)
        loss_value.backward()
        opt.step()
        if loss_kind == "clip":
            with torch.no_grad():
                scale_p.clamp_(0, math.log(100))
        losses.append(float(loss_value.detach()))
        elapsed = time.perf_counter() - t0
        if step % log_every == 0 or step == steps - 1:
            row = {"step": step + 1, "lr": cur_lr, "loss": losses[-1], "logit_scale": model.logit_scale,
                   "logit_bias": model.logit_bias if model.logit_bias is not None else "",
                   "seconds": round(elapsed, 3)}
            rows.append(row)
            if progress:
                print(f"[pretrain {model.family}] step {step + 1}/{steps} loss {losses[-1]:.4f} lr {cur_lr:.2e} "
                      f"scale {model.logit_scale:.2f} {elapsed:.1f}s", file=sys.stderr, flush=True)
        if callback is not None and ((callback_every and (step + 1) % callback_every == 0) or step == steps - 1):
            model.eval()
            with torch.no_grad():
                called.append({"step": step + 1, "result": callback(step + 1, model)})
            model.train()
            t0 = time.perf_counter() - elapsed  # callback time is not training time
    model.eval()
    train_seconds = time.perf_counter() - t0
    if log_path is not None:
        from ..io import atomic_path

        with atomic_path(log_path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
                w.writeheader()
                w.writerows(rows)
    k = min(10, len(losses))
    return {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "epochs": round(steps * batch_size / len(pairs), 3),
        "seconds": round(time.perf_counter() - t_start, 3),
        "train_seconds": round(train_seconds, 3),
        "seconds_per_step": round(train_seconds / steps, 4),
        "first_loss": losses[0],
        "final_loss": losses[-1],
        "loss_first10": sum(losses[:k]) / k,
        "loss_last10": sum(losses[-k:]) / k,
        "logit_scale": model.logit_scale,
        "logit_bias": model.logit_bias,
        **({"callbacks": called} if callback is not None else {}),
    }


def pretrain_toy_teacher(family: str, bench, pairs, work, *, size: dict | None = None, steps: int,
                         batch_size: int, lr: float, seed: int = 0, vocab_size: int | None = None,
                         log_path=None, progress: bool = True, configure=None, **options):
    """A toy teacher of ``family`` trained from scratch on ``pairs``: the one toy-teacher setup.

    Every caller makes its toy teachers here: the shipped teachers' recipe (``models.recipe``, and
    through it ``quickstart``), rule ``pretrain_teacher`` (``source: toy``) and
    ``benchmarks/tune_teachers.py``. ``pairs`` are captions of ``bench`` (columns ``image_id``,
    ``text``). The toy tokenizer is trained on their text and keeps the lexicon's pieces of the
    benchmark's languages whole (``lexicon.tokenizer_pieces``), both lower-cased for the SigLIP2
    family, whose toy lower-cases its text as SigLIP2 does; it is written to ``work/tokenizer``,
    which the teacher reads. Then ``build_toy_teacher(family, ..., size, seed)``, ``configure(teacher)``
    when given (diagnostics), and ``pretrain_teacher`` on the pairs' images with ``options``
    (``callback``, ``augment_shift``, ``loss``, ...); its log goes to ``log_path`` (default
    ``work/pretrain_log.csv``). Returns the teacher and ``pretrain_teacher``'s summary with the
    counts of ``pairs`` and ``images``.
    """
    from ..data import lexicon
    from ..data.formats import load_image
    from .tokenizer import build_toy_tokenizer
    from .toy import build_toy_teacher

    work = Path(work)
    norm = str.lower if family == "siglip2" else (lambda text: text)
    pieces = sorted({norm(p) for p in lexicon.tokenizer_pieces(bench.languages)})
    build_toy_tokenizer([norm(t) for t in pairs["text"]], pieces, work / "tokenizer", vocab_size=vocab_size)
    teacher = build_toy_teacher(family, work / "tokenizer", size or {}, seed)
    if configure is not None:
        configure(teacher)
    image_ids = sorted(set(pairs["image_id"]))
    index = {image_id: i for i, image_id in enumerate(image_ids)}
    summary = pretrain_teacher(teacher, [load_image(bench.image_path(i)) for i in image_ids],
                               [(index[i], t) for i, t in zip(pairs["image_id"], pairs["text"])],
                               steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                               log_path=work / "pretrain_log.csv" if log_path is None else log_path, **options)
    return teacher, {"pairs": len(pairs), "images": len(image_ids), **summary}
