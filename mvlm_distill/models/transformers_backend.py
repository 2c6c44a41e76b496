"""transformers backend: ``SiglipModel``, ``Siglip2Model`` and other dual encoders with ``get_text_features``.

The fixed-resolution SigLIP2 checkpoints (``google/siglip2-base-patch16-224``, ...) have
``model_type: siglip`` and load as ``SiglipModel`` with ``SiglipImageProcessor`` and a plain
``GemmaTokenizer``; only the NaFlex ones (``...-naflex``) are ``Siglip2Model`` with
``Siglip2ImageProcessor``. Both were trained on lower-cased text padded to 64 tokens, so an
``hf`` spec of either model type defaults to ``text_normalization: lowercase``.

Saved layout: exactly what ``save_pretrained`` writes (``config.json``,
``model.safetensors``), the image processor's ``preprocessor_config.json``,
``tokenizer/`` (the tokenizer files) and ``mvlm_model.json``. Loading:
``Siglip2Model.from_pretrained`` (``AutoModel`` for other model types),
``AutoImageProcessor.from_pretrained`` on the folder and ``AutoTokenizer.from_pretrained``
on ``tokenizer/``. The tokenizer has a folder of its own because, next to a
``config.json`` of model type ``siglip2``, transformers 5 forces its own Gemma-style
``Siglip2Tokenizer`` class onto any ``tokenizer.json`` (a toy vocabulary would be
re-segmented into characters).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from .base import (
    MANIFEST, ModelLoadError, VisionLanguageModel, check_text_normalization, drop_unused_padding, tokenizer_identity,
)

PROCESSOR_CONFIG = "preprocessor_config.json"
TOKENIZER_DIR = "tokenizer"
#: library model class per config model type (anything else: ``AutoModel``)
MODEL_CLASSES = {"siglip": "SiglipModel", "siglip2": "Siglip2Model"}
#: what an ``hf`` checkpoint of a model type gets when its spec names no text_normalization
DEFAULT_TEXT_NORMALIZATION = {"siglip": ("lowercase",), "siglip2": ("lowercase",)}


class _Tower(nn.Module):
    """A parameter container for a tower spread over several attributes (e.g. CLIPModel's projection)."""

    def __init__(self, **parts: nn.Module):
        super().__init__()
        for k, v in parts.items():
            self.add_module(k, v)

    def forward(self, *args, **kwargs):  # pragma: no cover - encode through the VisionLanguageModel
        raise RuntimeError("call VisionLanguageModel.encode_text/encode_image instead")


#: text towers that pool the last position (with a padding mask, only the real tokens and that
#: position need computing: ``drop_unused_padding``)
_LAST_POSITION_POOLING = ("siglip_text_model", "siglip2_text_model")


def _output_tensor(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        raise ModelLoadError(f"model output {type(out).__name__} has no pooler_output")
    return pooled


class TransformersModel(VisionLanguageModel):
    library = "transformers"

    def __init__(self, family: str, model: nn.Module, tokenizer, image_processor, context_length: int,
                 meta: dict | None = None):
        super().__init__(family, meta)
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.context_length = int(context_length)
        text_model = model.text_model
        proj = getattr(model, "text_projection", None)
        self.text_encoder = text_model if proj is None else _Tower(text_model=text_model, text_projection=proj)
        vproj = getattr(model, "visual_projection", None)
        self._image_tower = model.vision_model if vproj is None else _Tower(
            vision_model=model.vision_model, visual_projection=vproj)
        self.uses_attention_mask = "attention_mask" in getattr(tokenizer, "model_input_names", ["attention_mask"])
        text_type = getattr(getattr(model.config, "text_config", None), "model_type", None)
        self.pools_last_position = text_type in _LAST_POSITION_POOLING

    # ---- text ---------------------------------------------------------------------------
    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(list(texts), padding="max_length", max_length=self.context_length,
                             truncation=True, return_tensors="pt")
        ids = enc["input_ids"].long()
        mask = enc.get("attention_mask")
        if mask is None:
            mask = (ids != self.tokenizer.pad_token_id).long()
        return {"input_ids": ids, "attention_mask": mask.long()}

    def _text_features(self, tokens):
        kwargs = {"input_ids": tokens["input_ids"]}
        if self.uses_attention_mask and "attention_mask" in tokens:
            kwargs["attention_mask"] = tokens["attention_mask"]
            if self.pools_last_position:
                ids, mask, positions = drop_unused_padding(kwargs["input_ids"], kwargs["attention_mask"],
                                                           keep_last=True)
                kwargs = {"input_ids": ids, "attention_mask": mask,
                          **({"position_ids": positions} if positions is not None else {})}
        return _output_tensor(self.model.get_text_features(**kwargs))

    def text_layers(self) -> nn.ModuleList:
        return self.model.text_model.encoder.layers

    def set_text_layers(self, layers: list[nn.Module]) -> None:
        n = len(layers)
        self.model.text_model.encoder.layers = nn.ModuleList(layers)
        configs = [self.model.config.text_config, self.model.text_model.config]
        for cfg in {id(c): c for c in configs}.values():
            cfg.num_hidden_layers = n

    # ---- image --------------------------------------------------------------------------
    def preprocess(self, images):
        out = self.image_processor(images=list(images), return_tensors="pt")
        return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}

    def _image_features(self, pixels):
        return _output_tensor(self.model.get_image_features(**pixels))

    def image_tower(self) -> nn.Module:
        return self._image_tower

    # ---- scale --------------------------------------------------------------------------
    def _logit_scale_param(self):
        return self.model.logit_scale

    def _logit_bias_param(self):
        return getattr(self.model, "logit_bias", None) if self.family == "siglip2" else None

    # ---- persistence --------------------------------------------------------------------
    def config_dict(self) -> dict:
        return {"config": self.model.config.to_dict(),
                "image_processor": self.image_processor.to_dict() if self.image_processor is not None else None}

    def tokenizer_string(self) -> str:
        return tokenizer_identity(self.tokenizer)

    def save(self, directory: Path) -> dict:
        directory.mkdir(parents=True, exist_ok=True)
        from transformers.utils import logging as hf_logging

        # save_pretrained diffs against a default config whose special-token ids do not fit a toy
        # vocabulary; transformers then warns about that default, not about this model
        config_logger = hf_logging.get_logger("transformers.configuration_utils")
        level = config_logger.level
        config_logger.setLevel(hf_logging.ERROR)
        try:
            self.model.save_pretrained(directory, safe_serialization=True)
        finally:
            config_logger.setLevel(level)
        self.tokenizer.save_pretrained(directory / TOKENIZER_DIR)
        self.image_processor.save_pretrained(directory)
        return {
            "library": self.library,
            "model_config": "config.json",
            "weights": "model.safetensors",
            "processor_config": PROCESSOR_CONFIG,
            "tokenizer": {"kind": "hf", "path": TOKENIZER_DIR},
            "context_length": self.context_length,
            "model_type": self.model.config.model_type,
        }


def _model_class(model_type: str):
    import transformers

    return getattr(transformers, MODEL_CLASSES.get(model_type, "AutoModel"))


def _load_parts(source: str, context_length: int | None, family: str, meta: dict,
                trust_remote_code: bool = False, tokenizer_dir: str | None = None) -> TransformersModel:
    import transformers

    kwargs = {"trust_remote_code": True} if trust_remote_code else {}
    config = transformers.AutoConfig.from_pretrained(source, **kwargs)
    model = _model_class(config.model_type).from_pretrained(source, **kwargs)
    # the image processor comes from preprocessor_config.json; a saved model's tokenizer from its own folder
    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir or source, **kwargs)
    image_processor = transformers.AutoImageProcessor.from_pretrained(source, **kwargs)
    if context_length is None:
        text_cfg = getattr(config, "text_config", config)
        context_length = int(getattr(text_cfg, "max_position_embeddings", 64))
    return TransformersModel(family, model, tokenizer, image_processor, context_length, meta)


def load_saved(directory: Path, manifest: dict) -> TransformersModel:
    tok_path = manifest.get("tokenizer", {}).get("path", ".")
    return _load_parts(str(directory), manifest.get("context_length"), manifest["family"], manifest.get("meta", {}),
                       trust_remote_code=bool(manifest.get("trust_remote_code", False)),
                       tokenizer_dir=str(Path(directory) / tok_path))


def load_hf(spec: dict) -> TransformersModel:
    """``source: hf``: a hub name or a local folder; ``trust_remote_code`` only when the spec says so."""
    checkpoint = spec.get("checkpoint") or spec.get("path")
    if not checkpoint:
        raise ModelLoadError(f"model {spec.get('name')!r}: source hf needs `checkpoint` (a hub name or a folder)")
    family = spec.get("family", "siglip2")
    local = os.path.isdir(checkpoint)
    meta = {"name": spec.get("name", checkpoint), "source": "hf",
            "checkpoint": Path(checkpoint).name if local else checkpoint}
    try:
        # a folder written by save_model keeps its tokenizer in tokenizer/
        tok_dir = Path(checkpoint) / TOKENIZER_DIR
        vlm = _load_parts(checkpoint, spec.get("context_length"), family, meta,
                          trust_remote_code=spec.get("trust_remote_code") is True,
                          tokenizer_dir=str(tok_dir) if local and (tok_dir / "tokenizer_config.json").is_file()
                          else None)
    except Exception as err:
        where = "local folder" if local else "hub model"
        hint = "" if local else (
            " Nothing can be downloaded here (HF_HUB_OFFLINE or no network) unless it is already in the "
            "Hugging Face cache; point `checkpoint` at a local folder instead")
        raise ModelLoadError(f"could not load {where} {checkpoint!r}: {type(err).__name__}: {err}.{hint}") from err
    vlm.trust_remote_code = spec.get("trust_remote_code") is True
    if "text_normalization" in spec:
        vlm.text_normalization = check_text_normalization(spec["text_normalization"], f"model {spec.get('name')!r}")
    elif local and (Path(checkpoint) / MANIFEST).is_file():  # a folder written by save_model
        vlm.text_normalization = check_text_normalization(
            json.loads((Path(checkpoint) / MANIFEST).read_text(encoding="utf-8")).get("text_normalization"),
            str(Path(checkpoint) / MANIFEST))
    else:
        vlm.text_normalization = DEFAULT_TEXT_NORMALIZATION.get(vlm.model.config.model_type, ())
    return vlm
