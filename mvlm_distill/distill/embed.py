"""Embedding work, paid once: teacher caches, student text embeddings, tokenised corpora.

All encoding runs under ``torch.inference_mode`` in batches; results go to
``.npz`` files that record the model fingerprint and the data checksum they
were made from (mvlm_distill.io), so a stale cache is rebuilt, never reused.
A benchmark's text embeddings are one folder of per-language files
(``evaluation_files``, ``mvlm_distill.io.save_text_embeddings``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import torch

from mvlm_distill.cluster import ALLOW_CPU_VARIABLE, granted_gpu, nvidia_driver
from mvlm_distill.data.formats import load_image
from mvlm_distill.progress import progress_log


class DeviceError(RuntimeError):
    """A job was given a GPU that torch cannot use, and the config does not allow CPU."""


def cuda_problem() -> str | None:
    """Why torch cannot compute on a GPU here, as a clause; None where it can."""
    build = f"torch {torch.__version__}"
    if torch.version.cuda is None:
        return f"{build} is a CPU-only build"
    build += f" (built for CUDA {torch.version.cuda})"
    # torch says why (e.g. "The NVIDIA driver on your system is too old") only in a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if not available:
        told = [" ".join(str(w.message).split()) for w in caught if "CUDA" in str(w.message)]
        said = told[0].split(". ")[0] if told else nvidia_driver()
        return f"{build} sees no usable device ({said})"
    try:  # a GPU too old or too new for the build is visible but has no kernels
        (torch.ones(1, device="cuda") + 1).item()
    except RuntimeError as err:
        said = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"{build} cannot run on {torch.cuda.get_device_name(0)} ({said})"
    return None


def pick_device(requested: str | None = None, *, allow_cpu: bool | None = None, env=None) -> torch.device:
    """The device of a GPU rule: CUDA where torch can use it, else CPU.

    A job that was given a GPU (``granted_gpu``) and cannot use it fails at once, naming the
    cause, unless CPU is allowed (``allow_cpu``; None: the config's ``compute.allow_cpu``, which
    the Snakefile hands every job as ALLOW_CPU_VARIABLE); a silent CPU run of a cluster job would
    take many times its time limit. Without a GPU grant (a laptop, CI) CPU is the plan."""
    if requested:
        return torch.device(requested)
    env = os.environ if env is None else env
    problem = cuda_problem()
    if problem is None:
        return torch.device("cuda")
    grant = granted_gpu(env)
    if grant is None:
        return torch.device("cpu")
    if not (env.get(ALLOW_CPU_VARIABLE) == "1" if allow_cpu is None else allow_cpu):
        raise DeviceError(
            f"CUDA is not usable here: this job was given a GPU ({grant}) but {problem}; install a torch "
            "build that matches the node's driver (docs/cluster.md, 'GPU jobs and the torch build') or set "
            "compute.allow_cpu: true in the config to run GPU rules on CPU."
        )
    print(f"CUDA is not usable here: {problem}; running on CPU, as compute.allow_cpu allows.")
    return torch.device("cpu")


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


def corpus_items(captions: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """Pair each selected caption with its parallel English caption.

    Returns columns caption_id, english_caption_id, image_id, language; items without
    an English counterpart are dropped (every KD method except FD needs one).
    """
    english = captions[captions["language"] == "en"][["parallel_id", "caption_id"]]
    english = english.rename(columns={"caption_id": "english_caption_id"}).drop_duplicates("parallel_id")
    items = selected.merge(english, on="parallel_id", how="inner")
    return items[["caption_id", "english_caption_id", "image_id", "language"]].reset_index(drop=True)


def vqa_prompt(language: str, question: str, answer: str) -> str:
    """The text embedded for one (question, candidate answer) pair: the synthetic lexicon's
    per-language prompt where it has one, else the question and the answer side by side."""
    from mvlm_distill.data import lexicon

    if language in lexicon.LANGUAGES:
        return lexicon.vqa_prompt(language, question, answer)
    return f"{question}{'' if language in ('zh', 'ja') else ' '}{answer}"


def evaluation_texts(captions: pd.DataFrame, vqa: pd.DataFrame | None, prompt=vqa_prompt) -> tuple[list[str], list[str]]:
    """Ids and texts to embed for one benchmark: captions, then every VQA (question, candidate) prompt."""
    ids = captions["caption_id"].tolist()
    texts = captions["text"].tolist()
    if vqa is not None and len(vqa):
        columns = [vqa[c].tolist() for c in ("question_id", "language", "question", "candidates")]
        for question_id, language, question, candidates in zip(*columns):
            for j, candidate in enumerate(candidates):
                ids.append(f"{question_id}::{j}")
                texts.append(prompt(language, question, candidate))
    return ids, texts


def evaluation_files(
    captions: pd.DataFrame, vqa: pd.DataFrame | None, languages=()
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The per-language files of a benchmark's text embeddings and the file of each ``evaluation_texts`` row.

    Files are ``(language, "captions")`` and, when the benchmark has VQA (``vqa`` not None),
    ``(language, "vqa")`` for every language of ``languages`` (the benchmark's, in its order; a file may
    get no rows) and any other language the rows have; rows get their position in that list
    (``mvlm_distill.io.save_text_embeddings``'s ``files`` and ``file_of_row``).
    """
    caption_languages = captions["language"].tolist()
    vqa_languages = []
    if vqa is not None and len(vqa):
        vqa_languages = [lang for lang, cands in zip(vqa["language"].tolist(), vqa["candidates"].tolist())
                         for _ in cands]
    all_languages = dict.fromkeys([*languages, *caption_languages, *vqa_languages])
    parts = ("captions", "vqa") if vqa is not None else ("captions",)
    files = [(lang, part) for lang in all_languages for part in parts]
    number = {f: k for k, f in enumerate(files)}
    file_of_row = [number[(lang, "captions")] for lang in caption_languages]
    file_of_row += [number[(lang, "vqa")] for lang in vqa_languages]
    return files, np.asarray(file_of_row, dtype=np.int64)
