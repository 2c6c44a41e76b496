"""open_clip backend: real open_clip models (``CustomTextCLIP``) behind the uniform interface.

Saved layout (what ``save`` writes and ``load_saved`` reads; paths relative to the folder)::

    open_clip_config.json         {"model_cfg": ..., "preprocess_cfg": ...} as open_clip writes it;
                                  an HF text tower's ``hf_model_name``/``hf_tokenizer_name`` is
                                  "text_config" (a folder next to it), resolved when loading
    open_clip_model.safetensors   the full state dict (open_clip's ``load_checkpoint`` format)
    text_config/                  HF text tower only: its transformers config + tokenizer
    tokenizer.json, ...           HF tokenizer (also what ``open_clip.get_tokenizer("local-dir:...")`` reads)
    mvlm_model.json               the manifest (written by ``mvlm_distill.models.save_model``)

Loading goes through open_clip itself: the config is registered with
``open_clip.add_model_config`` and the model built with ``create_model(name,
pretrained=<file>, pretrained_text=False)``, which calls ``load_checkpoint``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from .base import ModelLoadError, VisionLanguageModel, drop_unused_padding, tokenizer_identity

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
TEXT_CONFIG_DIR = "text_config"


def _open_clip():
    import open_clip  # noqa: F401  (heavy import kept local)

    return open_clip


@contextlib.contextmanager
def registered_config(model_cfg: dict, stem: str):
    """Register ``model_cfg`` with open_clip under a unique name for the duration of the block."""
    open_clip = _open_clip()
    digest = hashlib.sha256(json.dumps(model_cfg, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{stem}-{digest}"
    tmp = Path(tempfile.mkdtemp(prefix="mvlm-openclip-"))
    try:
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(model_cfg), encoding="utf-8")
        open_clip.add_model_config(path)
        yield name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _resolve_hf_paths(model_cfg: dict, base: Path) -> dict:
    """Turn folder names of an HF text tower relative to ``base`` into paths open_clip can open."""
    cfg = copy.deepcopy(model_cfg)
    text_cfg = cfg.get("text_cfg", {})
    for key in ("hf_model_name", "hf_tokenizer_name"):
        value = text_cfg.get(key)
        if value and not os.path.isabs(value) and (base / value).exists():
            text_cfg[key] = str((base / value).resolve())
    return cfg


class OpenClipModel(VisionLanguageModel):
    """An open_clip ``CustomTextCLIP`` (HF or native text tower) with its tokenizer and transform."""

    library = "open_clip"

    def __init__(self, family: str, model: nn.Module, tokenizer, model_cfg: dict, meta: dict | None = None,
                 tokenizer_name: str | None = None):
        super().__init__(family, meta)
        open_clip = _open_clip()
        if not hasattr(model, "text"):
            raise ModelLoadError(
                "open_clip model has no separate text tower (plain CLIP class); build it with force_custom_text=True")
        self.model = model
        self.text_encoder = model.text
        self.tokenizer = tokenizer
        self.model_cfg = copy.deepcopy(model_cfg)
        self.model_cfg["custom_text"] = True
        self.tokenizer_name = tokenizer_name  # open_clip model name for non-HF tokenizers
        self.context_length = int(getattr(tokenizer, "context_length", None)
                                  or self.model_cfg["text_cfg"].get("context_length", 77))
        from open_clip.transform import PreprocessCfg, image_transform_v2

        self.preprocess_cfg = copy.deepcopy(open_clip.get_model_preprocess_cfg(model))
        self._transform = image_transform_v2(PreprocessCfg(**self.preprocess_cfg), is_train=False)

    # ---- text ---------------------------------------------------------------------------
    @property
    def is_hf_text(self) -> bool:
        from open_clip.hf_model import HFTextEncoder

        return isinstance(self.model.text, HFTextEncoder)

    @property
    def pad_token_id(self) -> int:
        if self.is_hf_text:
            return int(self.model.text.config.pad_token_id)
        return int(self.model_cfg["text_cfg"].get("pad_id", 0))

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        ids = self.tokenizer(list(texts), context_length=self.context_length)
        ids = torch.as_tensor(ids, dtype=torch.long)
        return {"input_ids": ids, "attention_mask": (ids != self.pad_token_id).long()}

    def _text_features(self, tokens):
        ids = tokens["input_ids"]
        if self.is_hf_text and self.model_cfg.get("text_cfg", {}).get("hf_pooler_type") == "mean_pooler":
            # the HF tower masks padding (mask = ids != pad) and mean-pools over real tokens only
            ids, _, _ = drop_unused_padding(ids, (ids != self.pad_token_id).long())
        return self.model.encode_text(ids)

    def text_layers(self) -> nn.ModuleList:
        text = self.model.text
        if self.is_hf_text:
            from open_clip.hf_configs import arch_dict

            names = arch_dict[text.config.model_type]["config_names"]
            encoder = text.transformer.encoder if hasattr(text.transformer, "encoder") else text.transformer
            return getattr(encoder, names["layer_attr"])
        return text.transformer.resblocks

    def set_text_layers(self, layers: list[nn.Module]) -> None:
        """Replace the text blocks (student building) and keep every config in step."""
        text = self.model.text
        n = len(layers)
        if self.is_hf_text:
            from open_clip.hf_configs import arch_dict

            names = arch_dict[text.config.model_type]["config_names"]
            encoder = text.transformer.encoder if hasattr(text.transformer, "encoder") else text.transformer
            setattr(encoder, names["layer_attr"], nn.ModuleList(layers))
            for cfg in {id(c): c for c in (text.config, text.transformer.config)}.values():
                setattr(cfg, names["layers"], n)
        else:
            text.transformer.resblocks = nn.ModuleList(layers)
            text.transformer.layers = n
            self.model_cfg["text_cfg"]["layers"] = n

    # ---- image --------------------------------------------------------------------------
    def preprocess(self, images) -> torch.Tensor:
        return torch.stack([self._transform(im) for im in images])

    def _image_features(self, pixels):
        return self.model.encode_image(pixels)

    def image_tower(self) -> nn.Module:
        return self.model.visual

    # ---- scale --------------------------------------------------------------------------
    def _logit_scale_param(self):
        return self.model.logit_scale

    def _logit_bias_param(self):
        return getattr(self.model, "logit_bias", None)

    # ---- persistence --------------------------------------------------------------------
    def saved_model_cfg(self) -> dict:
        cfg = copy.deepcopy(self.model_cfg)
        if self.is_hf_text:
            cfg["text_cfg"]["hf_model_name"] = TEXT_CONFIG_DIR
            cfg["text_cfg"]["hf_tokenizer_name"] = TEXT_CONFIG_DIR
        return cfg

    def config_dict(self) -> dict:
        out = {"model_cfg": self.saved_model_cfg(), "preprocess_cfg": self.preprocess_cfg}
        if self.is_hf_text:
            out["text_hf_config"] = self.model.text.config.to_dict()
        return out

    def tokenizer_string(self) -> str:
        inner = getattr(self.tokenizer, "tokenizer", None)
        if inner is not None:
            return tokenizer_identity(inner)
        return type(self.tokenizer).__name__

    def save(self, directory: Path) -> dict:
        """Write the open_clip files; returns the manifest fields of this backend."""
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        cfg = self.saved_model_cfg()
        (directory / CONFIG_FILE).write_text(
            json.dumps({"model_cfg": cfg, "preprocess_cfg": self.preprocess_cfg}, indent=2), encoding="utf-8")
        tokenizer_kind = "open_clip"
        if self.is_hf_text:
            text_dir = directory / TEXT_CONFIG_DIR
            text_dir.mkdir(exist_ok=True)
            self.model.text.config.save_pretrained(text_dir)
        from open_clip.tokenizer import HFTokenizer

        if isinstance(self.tokenizer, HFTokenizer):
            inner = self.tokenizer.tokenizer
            inner.save_pretrained(directory)
            if self.is_hf_text:
                inner.save_pretrained(directory / TEXT_CONFIG_DIR)
            tokenizer_kind = "hf"
        save_file(_plain_state_dict(self.model), str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
        return {
            "library": self.library,
            "model_config": CONFIG_FILE,
            "weights": WEIGHTS_FILE,
            "processor_config": CONFIG_FILE,
            "tokenizer": {"kind": tokenizer_kind, "path": ".", "name": self.tokenizer_name},
            "context_length": self.context_length,
        }


def _plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """State dict with no two tensors sharing memory (safetensors refuses shared tensors)."""
    out, seen = {}, set()
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu").contiguous()
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        out[k] = v.clone() if key in seen else v
        seen.add(key)
    return out


def _tokenizer_for(model_name_or_dir: str, model_cfg: dict, context_length: int | None, local_dir: Path | None):
    open_clip = _open_clip()
    from open_clip.tokenizer import HFTokenizer

    text_cfg = model_cfg.get("text_cfg", {})
    ctx = context_length or text_cfg.get("context_length") or 77
    if local_dir is not None and (local_dir / "tokenizer_config.json").exists():
        return HFTokenizer(str(local_dir), context_length=ctx)
    if text_cfg.get("hf_tokenizer_name"):
        return HFTokenizer(text_cfg["hf_tokenizer_name"], context_length=ctx,
                           **(text_cfg.get("tokenizer_kwargs") or {}))
    return open_clip.get_tokenizer(model_name_or_dir, context_length=ctx)


def build_from_cfg(model_cfg: dict, *, family: str, stem: str, pretrained: str | None = None,
                   tokenizer=None, tokenizer_name: str | None = None, meta: dict | None = None,
                   force_preprocess_cfg: dict | None = None, seed: int | None = None) -> OpenClipModel:
    """Register ``model_cfg`` (HF paths already absolute) and build it with ``open_clip.create_model``."""
    open_clip = _open_clip()
    with registered_config(model_cfg, stem) as name:
        if seed is not None:
            torch.manual_seed(seed)
        model = open_clip.create_model(
            name, pretrained=pretrained, pretrained_text=False, pretrained_image=False,
            force_custom_text=True, force_preprocess_cfg=force_preprocess_cfg,
            weights_only=True, require_pretrained=bool(pretrained),
        )
    if tokenizer is None:
        tokenizer = _tokenizer_for(name, model_cfg, None, None)
    return OpenClipModel(family, model, tokenizer, model_cfg, meta, tokenizer_name=tokenizer_name)


def load_saved(directory: Path, manifest: dict) -> OpenClipModel:
    directory = Path(directory)
    cfg_file = directory / manifest.get("model_config", CONFIG_FILE)
    full = json.loads(cfg_file.read_text(encoding="utf-8"))
    saved_cfg = full.get("model_cfg", full)
    model_cfg = _resolve_hf_paths(saved_cfg, directory)
    tok_info = manifest.get("tokenizer", {})
    ctx = manifest.get("context_length")
    if tok_info.get("kind") == "hf":
        from open_clip.tokenizer import HFTokenizer

        tokenizer = HFTokenizer(str(directory / tok_info.get("path", ".")), context_length=ctx)
    else:
        tokenizer = _open_clip().get_tokenizer(tok_info.get("name") or "", context_length=ctx)
    vlm = build_from_cfg(
        model_cfg, family=manifest["family"], stem="mvlm-saved",
        pretrained=str(directory / manifest.get("weights", WEIGHTS_FILE)),
        tokenizer=tokenizer, tokenizer_name=tok_info.get("name"), meta=manifest.get("meta"),
        force_preprocess_cfg=full.get("preprocess_cfg"),
    )
    vlm.model_cfg = copy.deepcopy(saved_cfg)  # keep the relative form for the fingerprint/saving
    vlm.model_cfg["custom_text"] = True
    return vlm


def load_open_clip(spec: dict) -> OpenClipModel:
    """``source: open_clip``: a model name with a pretrained tag or a local weights file."""
    open_clip = _open_clip()
    name = spec.get("checkpoint") or spec.get("name")
    pretrained = spec.get("pretrained")
    if not name:
        raise ModelLoadError(f"model {spec.get('name')!r}: source open_clip needs `checkpoint` (an open_clip model name)")
    if not pretrained:
        raise ModelLoadError(
            f"model {spec.get('name')!r}: source open_clip needs `pretrained` (a tag such as laion5b_s13b_b90k "
            f"or a local .safetensors/.bin/.pt file)")
    if os.path.sep in str(pretrained) or Path(str(pretrained)).suffix in (".safetensors", ".bin", ".pt", ".pth"):
        if not Path(pretrained).is_file():
            raise ModelLoadError(f"model {name!r}: pretrained weights file {pretrained} does not exist")
    config_path = spec.get("config")
    family = spec.get("family", "clip")
    meta = {"name": spec.get("name", name), "source": "open_clip", "checkpoint": name,
            "pretrained": Path(str(pretrained)).name if Path(str(pretrained)).is_file() else pretrained}
    try:
        if config_path:  # an explicit open_clip model config JSON (e.g. one written by save_model)
            config_path = Path(config_path)
            full = json.loads(config_path.read_text(encoding="utf-8"))
            model_cfg = _resolve_hf_paths(full.get("model_cfg", full), config_path.parent)
            tokenizer = _tokenizer_for(name, model_cfg, None, None)
            return build_from_cfg(model_cfg, family=family, stem=name.replace("/", "-"), pretrained=str(pretrained),
                                  tokenizer=tokenizer, tokenizer_name=name, meta=meta,
                                  force_preprocess_cfg=full.get("preprocess_cfg"))
        model_cfg = open_clip.get_model_config(name)
        if model_cfg is None:
            raise ModelLoadError(f"open_clip has no model config named {name!r} (see open_clip.list_models())")
        model = open_clip.create_model(name, pretrained=str(pretrained), pretrained_text=False,
                                       force_custom_text=True, weights_only=True, require_pretrained=True)
        tokenizer = open_clip.get_tokenizer(name)
    except ModelLoadError:
        raise
    except Exception as err:  # download/offline/format failures: say which model
        raise ModelLoadError(
            f"could not load open_clip model {name!r} with pretrained={pretrained!r}: {type(err).__name__}: {err}. "
            f"Hub weights need network access (or a filled cache); offline, point `pretrained` at a local file"
        ) from err
    return OpenClipModel(family, model, tokenizer, model_cfg, meta, tokenizer_name=name)
