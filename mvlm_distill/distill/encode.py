"""The encoders: texts and images to L2-normalised embeddings with any ``VisionLanguageModel``.

All encoding runs under ``torch.inference_mode`` in batches (bf16 autocast on CUDA). Used by the
teacher caches (rules ``cache_images``, ``cache_teacher_text``), the evaluation embeddings (rule
``embed_texts``, which writes a benchmark's text embeddings as one folder of per-language files,
``mvlm_distill.io.save_text_embeddings``), in-memory training corpora
(``distill.trainer.corpus_in_memory``) and mteb's encoder (``evaluate.mteb_adapter``). What is
embedded for evaluation (captions and VQA prompts, their ids and files) is
``mvlm_distill.evaluate.texts``.
"""

from __future__ import annotations

import numpy as np
import torch

from mvlm_distill.data.formats import load_image
from mvlm_distill.progress import progress_log


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type="cpu", enabled=False)


def tokenize_texts(model, texts: list[str], batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Tokenise once; the result is reused by every step and every method."""
    parts = [model.tokenize(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def encode_tokens(model, tokens: dict[str, torch.Tensor], batch_size: int, device,
                  progress: str | None = "text embeddings") -> np.ndarray:
    """Embeddings of tokenised texts, in their order; progress lines under the label ``progress``
    (None: none).

    Batches are drawn in order of token count, so that a tower that leaves out the padding no row
    of a batch uses (``models.base.drop_unused_padding``) computes few padding positions; each
    text's embedding does not depend on its batch mates, so only float rounding changes."""
    device = torch.device(device)
    model.eval()
    n = tokens["input_ids"].shape[0]
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    mask = tokens.get("attention_mask")
    order = torch.arange(n) if mask is None else torch.argsort(mask.sum(1), stable=True)
    out = []
    log = progress_log(progress, n, "texts")
    with torch.inference_mode(), _autocast(device):
        for i in range(0, n, batch_size):
            rows = order[i : i + batch_size]
            batch = {k: v[rows].to(device, non_blocking=True) for k, v in tokens.items()}
            out.append(model.encode_text(batch).float().cpu())
            log.update(len(rows))
    log.finish()
    emb = torch.empty((n, out[0].shape[1]), dtype=torch.float32)
    emb[order] = torch.cat(out)
    return emb.numpy()


def encode_texts(model, texts: list[str], batch_size: int = 256, device="cpu") -> np.ndarray:
    """Encode each distinct text once (templated VQA prompts repeat a lot), in input order."""
    emb, inverse = encode_distinct(model, texts, batch_size, device)
    return emb[inverse]


def encode_distinct(model, texts: list[str], batch_size: int = 256, device="cpu",
                    progress: str | None = "text embeddings") -> tuple[np.ndarray, np.ndarray]:
    """``encode_texts`` without the expansion: the embeddings of the distinct texts (sorted) and each
    text's row among them (``encode_texts(...) == emb[inverse]``, bit for bit)."""
    unique, inverse = _unique_texts(texts)
    return encode_tokens(model, tokenize_texts(model, unique), batch_size, device, progress), inverse


def _unique_texts(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """``np.unique(texts, return_inverse=True)`` for strings (sorted distinct texts and each text's
    position among them), hashing first so that only the distinct texts are sorted."""
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    first = dict.fromkeys(texts)
    unique = sorted(first)  # code-point order, as numpy sorts its unicode arrays
    position = dict(zip(unique, range(len(unique))))
    inverse = np.fromiter((position[t] for t in texts), dtype=np.intp, count=len(texts))
    return unique, inverse


def encode_images(model, paths: list, batch_size: int = 256, device="cpu",
                  progress: str | None = "image embeddings") -> np.ndarray:
    """Encode image files in batches (decoding is per batch, so memory stays flat); progress lines
    under the label ``progress`` (None: none)."""
    device = torch.device(device)
    model.eval()
    out = []
    log = progress_log(progress, len(paths), "images")
    with torch.inference_mode(), _autocast(device):
        for i in range(0, len(paths), batch_size):
            batch = paths[i : i + batch_size]
            pixels = _to_device(model.preprocess([load_image(p) for p in batch]), device)
            out.append(model.encode_image(pixels).float().cpu())
            log.update(len(batch))
    log.finish()
    return torch.cat(out).numpy()


def _to_device(pixels, device):
    if isinstance(pixels, torch.Tensor):
        return pixels.to(device, non_blocking=True)
    if isinstance(pixels, dict) or hasattr(pixels, "items"):
        return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in pixels.items()}
    return pixels
