"""The uniform interface every loaded vision-language model offers.

A :class:`VisionLanguageModel` wraps one library model (an open_clip
``CustomTextCLIP`` or a transformers ``SiglipModel``/``Siglip2Model``/``AutoModel``) and its
tokenizer and image processor. Backends (``openclip_backend``,
``transformers_backend``) subclass it and fill in the library calls; everything
else (counting, fingerprints, freezing, device moves) lives here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator

import torch
from torch import nn

from mvlm_distill.definitions import FAMILIES

#: name of the manifest ``save_model`` writes next to the library's own files
MANIFEST = "mvlm_model.json"
#: format version of the manifest
MANIFEST_VERSION = 1


#: text normalisations a model may need before tokenisation (SigLIP2 was trained on lower-cased text)
TEXT_NORMALIZATIONS = {"lowercase": str.lower}


class ModelLoadError(RuntimeError):
    """A model spec or a saved model directory could not be turned into a model."""


def check_text_normalization(value, where: str) -> tuple[str, ...]:
    """A ``text_normalization`` setting (a name, a list of names or none) as a tuple of known names."""
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ModelLoadError(f"{where}: text_normalization {value!r} must be a name or a list of names "
                             f"from {sorted(TEXT_NORMALIZATIONS)}")
    unknown = [n for n in names if n not in TEXT_NORMALIZATIONS]
    if unknown:
        raise ModelLoadError(f"{where}: text_normalization {unknown[0]!r} is not one of {sorted(TEXT_NORMALIZATIONS)}")
    return tuple(names)


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"model family {family!r} is not one of {list(FAMILIES)}")
    return family


def unique_parameters(module: nn.Module) -> Iterator[nn.Parameter]:
    seen: set[int] = set()
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            yield p


def state_dict_digest(state: dict[str, torch.Tensor], h=None):
    """Feed a state dict (names, dtypes, shapes, bytes) into a sha256 object."""
    h = h or hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    return h


_VOLATILE_CONFIG_KEYS = {"architectures", "dtype", "torch_dtype", "transformers_version", "_name_or_path",
                         "_commit_hash", "_attn_implementation_autoset", "_attn_implementation_internal"}


def stable_config(obj):
    """A config dict without keys that change on save/load (library version, dtype, architectures)."""
    if isinstance(obj, dict):
        return {k: stable_config(v) for k, v in obj.items() if k not in _VOLATILE_CONFIG_KEYS}
    if isinstance(obj, (list, tuple)):
        return [stable_config(v) for v in obj]
    return obj


def tokenizer_identity(tokenizer) -> str:
    """The ``tokenizers`` JSON of an HF tokenizer without its call-time padding/truncation state."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        spec = json.loads(backend.to_str())
        spec.pop("padding", None)
        spec.pop("truncation", None)
        return json.dumps(spec, sort_keys=True)
    return f"{type(tokenizer).__name__}:{getattr(tokenizer, 'vocab_size', '')}"


def drop_unused_padding(input_ids: torch.Tensor, attention_mask: torch.Tensor, keep_last: bool = False):
    """A right-padded batch without the padding columns that no row uses.

    Exact for a text tower that masks padding out of attention and pooling: the dropped columns
    are never attended to. ``keep_last`` also keeps the final position, for towers that pool it
    (SigLIP: the last, usually padding, position attends to the real tokens only). Returns
    ``(input_ids, attention_mask, position_ids)``; ``position_ids`` is None when nothing was
    dropped or the positions are consecutive. Left padding, or nothing to drop, comes back unchanged.
    """
    length = input_ids.shape[1]
    used = int(attention_mask.sum(1).max()) if len(attention_mask) else length
    right_padded = bool((attention_mask[:, 1:] <= attention_mask[:, :-1]).all())
    if not right_padded or used >= length - int(keep_last):
        return input_ids, attention_mask, None
    if not keep_last:
        return input_ids[:, :used], attention_mask[:, :used], None
    cols = torch.cat([torch.arange(used), torch.tensor([length - 1])])
    return input_ids[:, cols], attention_mask[:, cols], cols.expand(len(input_ids), -1)


class VisionLanguageModel:
    """One image tower + one text tower with a uniform call interface.

    Attributes:
        family: ``"clip"`` (softmax contrastive) or ``"siglip2"`` (sigmoid).
        model: the underlying library model (``nn.Module``).
        text_encoder: the text tower including its projection: the trainable part of a student.
        tokenizer: the library tokenizer.
        context_length: the fixed number of token positions ``tokenize`` returns.
        text_normalization: names from :data:`TEXT_NORMALIZATIONS` applied to every text before
            tokenisation (part of the model: saved in the manifest and the fingerprint, so caches,
            training and evaluation all see the same text).
        meta: provenance written into the manifest (name, source, role, layer map, ...).
    """

    family: str
    library: str = ""
    model: nn.Module
    text_encoder: nn.Module
    context_length: int
    text_normalization: tuple[str, ...] = ()

    def __init__(self, family: str, meta: dict | None = None):
        self.family = check_family(family)
        self.meta = dict(meta or {})

    # ---- to be provided by a backend -------------------------------------------------
    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _text_features(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def preprocess(self, images) -> object:
        raise NotImplementedError

    def _image_features(self, pixels) -> torch.Tensor:
        raise NotImplementedError

    def image_tower(self) -> nn.Module:
        raise NotImplementedError

    def text_layers(self) -> nn.ModuleList:
        """The list of transformer blocks of the text tower (what a student keeps part of)."""
        raise NotImplementedError

    def _logit_scale_param(self) -> torch.Tensor:
        raise NotImplementedError

    def _logit_bias_param(self) -> torch.Tensor | None:
        return None

    def config_dict(self) -> dict:
        """Everything besides the weights that defines the model (for the fingerprint)."""
        raise NotImplementedError

    def tokenizer_string(self) -> str:
        return ""

    # ---- shared behaviour ---------------------------------------------------------------
    def normalize_texts(self, texts) -> list[str]:
        """``texts`` after the model's text normalisations (what the tokenizer is given)."""
        texts = list(texts)
        for name in self.text_normalization:
            texts = [TEXT_NORMALIZATIONS[name](t) for t in texts]
        return texts

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (B, context_length) of the normalised texts."""
        return self._tokenize(self.normalize_texts(texts))

    @property
    def device(self) -> torch.device:
        for p in self.model.parameters():
            return p.device
        return torch.device("cpu")

    def encode_text(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, D) L2-normalised text embeddings; differentiable (no ``no_grad`` inside)."""
        dev = self.device
        tokens = {k: v.to(dev) for k, v in tokens.items()}
        return nn.functional.normalize(self._text_features(tokens), dim=-1)

    def encode_image(self, pixels) -> torch.Tensor:
        """(B, D) L2-normalised image embeddings of ``preprocess``'s output."""
        dev = self.device
        if isinstance(pixels, dict):
            pixels = {k: v.to(dev) for k, v in pixels.items()}
        else:
            pixels = pixels.to(dev)
        return nn.functional.normalize(self._image_features(pixels), dim=-1)

    @property
    def logit_scale(self) -> float:
        """The exp'd scale the model multiplies cosine similarities with."""
        return float(self._logit_scale_param().detach().exp().reshape(-1)[0])

    @property
    def logit_bias(self) -> float | None:
        b = self._logit_bias_param()
        return None if b is None else float(b.detach().reshape(-1)[0])

    def text_parameter_count(self) -> int:
        return sum(p.numel() for p in unique_parameters(self.text_encoder))

    def text_layer_count(self) -> int:
        return len(self.text_layers())

    def total_parameter_count(self) -> int:
        return sum(p.numel() for p in unique_parameters(self.model))

    def image_parameter_count(self) -> int:
        return sum(p.numel() for p in unique_parameters(self.image_tower()))

    def fingerprint(self) -> str:
        """Short hash of the weights, the architecture config and the tokenizer."""
        h = hashlib.sha256()
        identity = {"family": self.family, "library": self.library, "context_length": self.context_length,
                    "config": stable_config(self.config_dict())}
        if self.text_normalization:  # absent when empty, so fingerprints from before the field stay valid
            identity["text_normalization"] = list(self.text_normalization)
        h.update(json.dumps(identity, sort_keys=True, default=str).encode())
        h.update(self.tokenizer_string().encode())
        state_dict_digest(self.model.state_dict(), h)
        return h.hexdigest()[:16]

    def to(self, device) -> "VisionLanguageModel":
        self.model.to(device)
        return self

    def train(self, mode: bool = True) -> "VisionLanguageModel":
        self.model.train(mode)
        return self

    def eval(self) -> "VisionLanguageModel":
        return self.train(False)

    def text_parameters(self) -> Iterator[nn.Parameter]:
        """The trainable parameters of the text tower (embeddings, blocks, norm, projection)."""
        return (p for p in unique_parameters(self.text_encoder) if p.requires_grad)

    def freeze_image_tower(self) -> "VisionLanguageModel":
        for p in self.image_tower().parameters():
            p.requires_grad_(False)
        return self

    def parameter_summary(self) -> dict:
        return {
            "family": self.family,
            "text_layers": self.text_layer_count(),
            "text_parameters": self.text_parameter_count(),
            "image_parameters": self.image_parameter_count(),
            "total_parameters": self.total_parameter_count(),
        }

    def __repr__(self) -> str:
        s = self.parameter_summary()
        return (f"{type(self).__name__}(family={self.family!r}, name={self.meta.get('name')!r}, "
                f"text_layers={s['text_layers']}, text_parameters={s['text_parameters']:,}, "
                f"total_parameters={s['total_parameters']:,})")
