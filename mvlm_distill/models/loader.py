"""``load_model(spec)`` and ``save_model(model, directory)``: one entry point for every source.

Sources of a model spec (a model entry of the study config):

* ``saved``: a folder written by :func:`save_model` (``path``); reads ``mvlm_model.json`` and
  opens the library files with the library's own loader.
* ``toy``: a toy teacher; it only exists once the workflow has pretrained and saved it,
  so ``path`` must name that folder (it is then opened like ``saved``).
* ``open_clip``: ``checkpoint`` an open_clip model name, ``pretrained`` a tag or a local
  ``.safetensors``/``.bin``/``.pt`` file (``torch.load`` only with ``weights_only=True``);
  optional ``config``: an open_clip model config JSON to register first.
* ``hf``: ``checkpoint`` a hub name or a local folder; ``trust_remote_code`` is passed
  only when the spec sets it to ``true``.

``text_normalization`` (a name or a list of names of ``base.TEXT_NORMALIZATIONS``) says what is
done to every text before tokenisation. ``hf`` SigLIP/SigLIP2 checkpoints default to
``lowercase`` (how SigLIP2 was trained; the Gemma tokenizer they ship does not lower-case), every
other source to none; a saved model keeps the one in its manifest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .base import (MANIFEST, MANIFEST_VERSION, ModelLoadError, VisionLanguageModel, check_family,
                   check_text_normalization)

SOURCES = ("toy", "open_clip", "hf", "saved")


def read_manifest(directory: str | os.PathLike) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"{directory}: no {MANIFEST}; not a folder written by save_model")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format_version", 0) > MANIFEST_VERSION:
        raise ModelLoadError(f"{path}: format_version {manifest['format_version']} is newer than this code "
                             f"({MANIFEST_VERSION})")
    return manifest


def load_model(spec: dict, device="cpu") -> VisionLanguageModel:
    """Turn a model spec into a :class:`VisionLanguageModel` on ``device`` (in eval mode)."""
    spec = dict(spec)
    source = spec.get("source", "saved" if spec.get("path") else None)
    if source not in SOURCES:
        raise ModelLoadError(f"model {spec.get('name')!r}: source {source!r} is not one of {list(SOURCES)}")
    if source in ("saved", "toy"):
        if not spec.get("path"):
            if source == "toy":
                raise ModelLoadError(
                    f"model {spec.get('name')!r}: a toy teacher is built and pretrained by the workflow "
                    f"(build_toy_teacher + pretrain_teacher + save_model); load it with `path` set to that folder")
            raise ModelLoadError(f"model {spec.get('name')!r}: source saved needs `path`")
        vlm = _load_saved(Path(spec["path"]))
        if spec.get("family") and spec["family"] != vlm.family:
            raise ModelLoadError(f"{spec['path']}: holds a {vlm.family} model but the spec says family "
                                 f"{spec['family']!r}")
        if "text_normalization" in spec:
            asked = check_text_normalization(spec["text_normalization"], f"model {spec.get('name')!r}")
            if asked != vlm.text_normalization:
                raise ModelLoadError(f"{spec['path']}: was saved with text_normalization "
                                     f"{list(vlm.text_normalization)} but the spec says {list(asked)}")
    elif source == "open_clip":
        from .openclip_backend import load_open_clip

        check_family(spec.get("family", "clip"))
        vlm = load_open_clip(spec)
        vlm.text_normalization = check_text_normalization(spec.get("text_normalization"),
                                                          f"model {spec.get('name')!r}")
    else:
        from .transformers_backend import load_hf

        check_family(spec.get("family", "siglip2"))
        vlm = load_hf(spec)
    if spec.get("name"):
        vlm.meta.setdefault("name", spec["name"])
    return vlm.to(device).eval()


def _load_saved(directory: Path) -> VisionLanguageModel:
    manifest = read_manifest(directory)
    library = manifest.get("library")
    if library == "open_clip":
        from .openclip_backend import load_saved
    elif library == "transformers":
        from .transformers_backend import load_saved
    else:
        raise ModelLoadError(f"{directory}/{MANIFEST}: unknown library {library!r}")
    weights = directory / manifest.get("weights", "")
    check_weight_file(weights)
    vlm = load_saved(directory, manifest)
    vlm.meta = dict(manifest.get("meta", {}))
    if vlm.meta.get("role") == "student":
        # frozen as build_student left it; torch's MultiheadAttention also takes another kernel
        # (its fast path) only when no parameter requires grad, so this keeps image embeddings bit-equal
        vlm.freeze_image_tower()
    vlm.text_normalization = check_text_normalization(manifest.get("text_normalization"),
                                                      str(directory / MANIFEST))
    _check_finite_weights(vlm, weights)
    return vlm


def check_weight_file(path: Path) -> None:
    """A saved weights file must exist and have a readable safetensors header (the libraries' own
    errors, e.g. ``header too large``, do not say which file)."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: weights file does not exist; the model folder is incomplete")
    if path.suffix != ".safetensors":
        return
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except Exception as err:  # SafetensorError and OSError: a damaged or truncated file
        raise ModelLoadError(
            f"{path}: not a readable safetensors file ({type(err).__name__}: {err}); the file is damaged, "
            f"so restore it or rebuild the model") from None


def _check_finite_weights(vlm: VisionLanguageModel, weights: Path) -> None:
    """NaN or infinite parameters only give NaN embeddings later; name the file now."""
    import torch

    for name, parameter in vlm.model.named_parameters():
        if not torch.isfinite(parameter).all():
            raise ModelLoadError(
                f"{weights}: parameter {name} holds NaN or infinite values; the weights are damaged, "
                f"so restore the file or rebuild the model")


def save_model(model: VisionLanguageModel, directory: str | os.PathLike) -> None:
    """Write the library-native files (safetensors, config, tokenizer, processor) and ``mvlm_model.json``.

    The manifest is written last: a folder without it is an interrupted save.
    """
    from ..io import ordinary_mode, write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stale = directory / MANIFEST
    if stale.exists():
        stale.unlink()
    fields = model.save(directory)
    for path in directory.rglob("*"):
        if path.is_file():
            ordinary_mode(path, 0o666)  # safetensors writes its files 0600; outputs are shared like any other
    manifest = {
        "format_version": MANIFEST_VERSION,
        "family": model.family,
        **fields,
        "trust_remote_code": bool(getattr(model, "trust_remote_code", False)),
        "text_normalization": list(model.text_normalization),
        "text_layers": model.text_layer_count(),
        "text_parameters": model.text_parameter_count(),
        "total_parameters": model.total_parameter_count(),
        "fingerprint": model.fingerprint(),
        "meta": _jsonable(model.meta),
    }
    write_json(directory / MANIFEST, manifest)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)
