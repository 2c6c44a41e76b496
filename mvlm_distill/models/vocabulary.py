"""Vocabulary trimming: keep the tokens a text sample uses, remap the token embedding matrix.

A multilingual tokenizer (XLM-R: 250,002 pieces) spends most of a small text tower's
parameters on token embeddings of scripts a study never sees. Trimming keeps

* every piece the sample's segmentation uses (the configured languages' training corpus
  plus an optional extra text sample),
* the special and added tokens, the unknown piece and byte-fallback pieces (``<0x00>``...),

in their original order, and rewrites the ``tokenizers`` JSON (vocabulary, unknown id,
added tokens, post-processor ids). For a Unigram model the best segmentation of any text
whose original segmentation uses only kept pieces is still available with the same score,
so covered text is segmented exactly as before (ids remapped); other text may fall back to
shorter pieces or ``<unk>``. Only Unigram vocabularies (XLM-R, the toy tokenizers) are
handled; a BPE vocabulary (Gemma) would need its merges pruned consistently and is refused.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Iterable

import torch
from torch import nn

BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


class TrimmingError(ValueError):
    """The tokenizer cannot be trimmed (not Unigram, or the kept set is inconsistent)."""


def hf_tokenizer(vlm):
    """The transformers tokenizer inside a model's tokenizer (open_clip wraps it in ``HFTokenizer``)."""
    return getattr(vlm.tokenizer, "tokenizer", vlm.tokenizer)


def used_token_ids(vlm, texts: Iterable[str]) -> set[int]:
    """Ids the model's tokenisation of ``texts`` uses: the library tokenizer without truncation, and the
    pipeline's own ``tokenize`` (which may normalise text first, e.g. lowercasing)."""
    texts = list(texts)
    tok = hf_tokenizer(vlm)
    used: set[int] = set()
    for start in range(0, len(texts), 1024):
        batch = texts[start:start + 1024]
        for ids in tok(batch, add_special_tokens=True)["input_ids"]:
            used.update(int(i) for i in ids)
        used.update(int(i) for i in vlm.tokenize(batch)["input_ids"].unique().tolist())
    return used


def always_kept_ids(tok) -> set[int]:
    """Special, added, unknown and byte-fallback pieces: kept whatever the sample uses."""
    spec = json.loads(tok.backend_tokenizer.to_str())
    model = spec["model"]
    keep = {int(t["id"]) for t in spec.get("added_tokens", [])}
    keep.update(int(i) for i in tok.all_special_ids)
    if model.get("type") == "Unigram":
        if model.get("unk_id") is not None:
            keep.add(int(model["unk_id"]))
        keep.update(i for i, (piece, _) in enumerate(model["vocab"]) if BYTE_PIECE.match(piece))
    return keep


def kept_token_ids(vlm, texts: Iterable[str]) -> list[int]:
    """Sorted ids a trimmed vocabulary keeps for ``texts``."""
    return sorted(used_token_ids(vlm, texts) | always_kept_ids(hf_tokenizer(vlm)))


def _remap_ids(obj, old_to_new: dict[int, int]):
    """Post-processor JSON with every token id remapped (TemplateProcessing, RobertaProcessing, ...)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "ids" and isinstance(v, list):
                out[k] = [old_to_new[int(i)] for i in v]
            elif k in ("sep", "cls") and isinstance(v, list) and len(v) == 2 and isinstance(v[1], int):
                out[k] = [v[0], old_to_new[v[1]]]
            else:
                out[k] = _remap_ids(v, old_to_new)
        return out
    if isinstance(obj, list):
        return [_remap_ids(v, old_to_new) for v in obj]
    return obj


def trimmed_tokenizer_json(tokenizer_json: str, kept: list[int]) -> str:
    """The ``tokenizers`` JSON restricted to ``kept`` ids (in their original order)."""
    spec = json.loads(tokenizer_json)
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise TrimmingError(f"vocabulary trimming handles Unigram tokenizers only, not {model.get('type')!r}")
    vocab = model["vocab"]
    bad = [i for i in kept if not 0 <= i < len(vocab)]
    if bad:
        raise TrimmingError(f"kept ids {bad[:5]} are outside the vocabulary of {len(vocab)} pieces")
    old_to_new = {old: new for new, old in enumerate(kept)}
    model["vocab"] = [vocab[i] for i in kept]
    if model.get("unk_id") is not None:
        if model["unk_id"] not in old_to_new:
            raise TrimmingError("the unknown piece must be kept")
        model["unk_id"] = old_to_new[model["unk_id"]]
    for token in spec.get("added_tokens", []):
        token["id"] = old_to_new[int(token["id"])]
    if spec.get("post_processor"):
        spec["post_processor"] = _remap_ids(spec["post_processor"], old_to_new)
    if spec.get("padding") and spec["padding"].get("pad_id") is not None:
        spec["padding"]["pad_id"] = old_to_new[int(spec["padding"]["pad_id"])]
    return json.dumps(spec, ensure_ascii=False)


def trim_hf_tokenizer(tok, kept: list[int]):
    """A ``PreTrainedTokenizerFast`` with the same pieces, normaliser and special tokens, restricted to ``kept``."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(trimmed_tokenizer_json(tok.backend_tokenizer.to_str(), kept))
    backend.no_padding()
    backend.no_truncation()
    specials = {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, model_max_length=tok.model_max_length,
        padding_side=tok.padding_side, truncation_side=tok.truncation_side,
        model_input_names=list(tok.model_input_names), **specials)


def _trimmed_embedding(embedding: nn.Embedding, kept: list[int], old_to_new: dict[int, int]) -> nn.Embedding:
    pad = embedding.padding_idx
    new = nn.Embedding(len(kept), embedding.embedding_dim,
                       padding_idx=None if pad is None else old_to_new[pad],
                       dtype=embedding.weight.dtype, device=embedding.weight.device)
    with torch.no_grad():
        new.weight.copy_(embedding.weight[torch.as_tensor(kept, device=embedding.weight.device)])
    new.weight.requires_grad_(embedding.weight.requires_grad)
    return new


def _remap_config_ids(cfg, old_to_new: dict[int, int], vocab_size: int) -> None:
    cfg.vocab_size = vocab_size
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value in old_to_new:
            setattr(cfg, key, old_to_new[value])


def text_embedding_module(vlm) -> nn.Embedding:
    """The text tower's token embedding matrix (open_clip HF tower or transformers text model)."""
    if vlm.library == "open_clip":
        if not getattr(vlm, "is_hf_text", False):
            return vlm.model.text.token_embedding
        return vlm.model.text.transformer.get_input_embeddings()
    return vlm.model.text_model.get_input_embeddings()


def trim_vocabulary(vlm, kept: list[int]):
    """A copy of ``vlm`` whose text vocabulary is ``kept`` (sorted ids); the image tower stays shared."""
    kept = sorted(set(int(i) for i in kept))
    missing = always_kept_ids(hf_tokenizer(vlm)) - set(kept)
    if missing:
        raise TrimmingError(f"kept ids lack the special/byte pieces {sorted(missing)[:5]}")
    old_to_new = {old: new for new, old in enumerate(kept)}
    image_tower = vlm.image_tower()
    memo = {id(m): m for m in image_tower.modules()}
    memo.update({id(p): p for p in image_tower.parameters()})
    trimmed = copy.deepcopy(vlm, memo)
    new_tok = trim_hf_tokenizer(hf_tokenizer(vlm), kept)
    embedding = _trimmed_embedding(text_embedding_module(trimmed), kept, old_to_new)
    if trimmed.library == "open_clip":
        if not trimmed.is_hf_text:
            raise TrimmingError("vocabulary trimming needs an HF text tower in open_clip models")
        text = trimmed.model.text
        text.transformer.set_input_embeddings(embedding)
        for cfg in {id(c): c for c in (text.config, text.transformer.config)}.values():
            _remap_config_ids(cfg, old_to_new, len(kept))
        text.vocab_size = len(kept)
        trimmed.tokenizer.tokenizer = new_tok
    else:
        trimmed.model.text_model.set_input_embeddings(embedding)
        configs = [trimmed.model.config.text_config, trimmed.model.text_model.config]
        for cfg in {id(c): c for c in configs}.values():
            _remap_config_ids(cfg, old_to_new, len(kept))
        trimmed.tokenizer = new_tok
    trimmed.meta = dict(vlm.meta, trimmed_vocabulary={"kept": len(kept), "original": embedding_rows(vlm)})
    return trimmed


def embedding_rows(vlm) -> int:
    return int(text_embedding_module(vlm).num_embeddings)


def embedding_parameter_count(vlm) -> int:
    return int(text_embedding_module(vlm).weight.numel())


def hf_text_parameter_counts(config, n_layers: int | None = None, projection: int = 0) -> dict:
    """Parameter counts of an HF text encoder built from ``config`` on the meta device (no weights):
    ``text`` (encoder + ``projection``) and ``token_embeddings``; ``n_layers`` overrides the depth."""
    from transformers import AutoModel

    cfg = copy.deepcopy(config)
    if n_layers is not None:
        cfg.num_hidden_layers = n_layers
    with torch.device("meta"):
        model = AutoModel.from_config(cfg, add_pooling_layer=False)
    total = sum(p.numel() for p in model.parameters())
    return {"text": int(total + projection), "token_embeddings": int(model.get_input_embeddings().weight.numel())}


def vocabulary_record(vlm, corpus_texts: list[str], extra_texts: list[str] = ()) -> dict:
    """What rule trim_vocabulary writes: the kept ids and the sizes the parameter table needs."""
    kept = kept_token_ids(vlm, list(corpus_texts) + list(extra_texts))
    embedding = text_embedding_module(vlm)
    return {
        "kept_ids": kept,
        "kept": len(kept),
        "vocabulary_size": int(embedding.num_embeddings),
        "embedding_width": int(embedding.embedding_dim),
        "corpus_texts": len(corpus_texts),
        "extra_texts": len(extra_texts),
        "teacher_fingerprint": vlm.fingerprint(),
    }
