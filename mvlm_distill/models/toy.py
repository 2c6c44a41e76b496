"""Tiny teachers of both families, built with the libraries' real model classes.

* ``clip``: an open_clip ``CustomTextCLIP`` whose text tower is an XLM-R-style
  ``HFTextEncoder`` (as in open_clip's ``xlm-roberta-base-ViT-B-32``: mean pooler,
  linear projection) and whose image tower is an open_clip ``VisionTransformer``
  for 32x32 images.
* ``siglip2``: a transformers fixed-resolution ``SiglipModel`` with ``SiglipImageProcessor`` and
  lower-cased text, as the paper's ``google/siglip2-base-patch16-224``.

Both read a toy tokenizer folder (``build_toy_tokenizer``), not XLM-R's or Gemma's vocabulary.
The shipped teachers (``teachers/``, made by ``mvlm_distill.models.recipe``) are saved in the
published checkpoints' layouts and load through the same code path as the paper's.

Size config (``size_config`` keys, defaults in :data:`DEFAULT_SIZE`):

==================  =====================================================================
``text_width``      hidden size of the text transformer
``text_layers``     text transformer blocks (4: the default half student keeps 0 and 2)
``text_heads``      attention heads of the text transformer
``text_mlp_ratio``  MLP hidden size / width in the text transformer
``vision_width``    hidden size of the image transformer
``vision_layers``   image transformer blocks
``vision_heads``    attention heads of the image transformer
``vision_mlp_ratio`` MLP hidden size / width in the image transformer
``patch_size``      image patch size (pixels)
``vision_type``     clip only: ``vit`` (open_clip VisionTransformer) or ``resnet`` (open_clip
                    ModifiedResNet; then ``vision_width`` is the stem width, ``vision_layers``
                    the blocks per stage)
``image_size``      image side (pixels) the image tower is built for
``embed_dim``       joint embedding size (clip; siglip2's is ``vision_width`` by design)
``context_length``  token positions per caption (incl. ``<s>``/``</s>``)
==================  =====================================================================

Short aliases (the study config's ``toy:`` block): ``layers`` (text layers), ``width``
(text and vision width and the embedding size), ``heads``, ``mlp_ratio``.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import torch

from .base import ModelLoadError, VisionLanguageModel, check_family
from .tokenizer import BOS_ID, EOS_ID, PAD_ID
from .toy_size import ALIASES, DEFAULT_SIZE, resolve_size  # noqa: F401  (torch-free: the config check reads them)


def _load_tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    ids = (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id)
    if ids != (BOS_ID, PAD_ID, EOS_ID):
        raise ModelLoadError(f"toy tokenizer {tokenizer_dir}: bos/pad/eos ids {ids} are not {(BOS_ID, PAD_ID, EOS_ID)}")
    return tok


def build_toy_clip(tokenizer_dir, size: dict, seed: int, name: str = "toy-clip") -> VisionLanguageModel:
    from transformers import XLMRobertaConfig
    from open_clip.tokenizer import HFTokenizer

    from .openclip_backend import build_from_cfg

    tok = _load_tokenizer(tokenizer_dir)
    ctx = int(size["context_length"])
    text_config = XLMRobertaConfig(
        vocab_size=len(tok),
        hidden_size=size["text_width"],
        num_hidden_layers=size["text_layers"],
        num_attention_heads=size["text_heads"],
        intermediate_size=int(size["text_width"] * size["text_mlp_ratio"]),
        max_position_embeddings=ctx + PAD_ID + 1,  # RoBERTa positions start after the pad id
        type_vocab_size=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-5,
        pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
    )
    if size["vision_type"] == "resnet":  # open_clip ModifiedResNet: width = stem width, layers = blocks per stage
        vision_cfg = {"image_size": int(size["image_size"]), "width": int(size["vision_width"]),
                      "layers": [int(size["vision_layers"])] * 4}
    else:
        vision_cfg = {
            "image_size": int(size["image_size"]),
            "patch_size": int(size["patch_size"]),
            "width": int(size["vision_width"]),
            "layers": int(size["vision_layers"]),
            "head_width": int(size["vision_width"] // size["vision_heads"]),
            "mlp_ratio": float(size["vision_mlp_ratio"]),
        }
    model_cfg = {
        "embed_dim": int(size["embed_dim"]),
        "vision_cfg": vision_cfg,
        "text_cfg": {
            "hf_model_name": None,  # filled below with a temporary folder, saved as "text_config"
            "hf_tokenizer_name": None,
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear",
            "context_length": ctx,
        },
    }
    tmp = Path(tempfile.mkdtemp(prefix="mvlm-toy-xlmr-"))
    try:
        text_config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        model_cfg["text_cfg"]["hf_model_name"] = str(tmp)
        model_cfg["text_cfg"]["hf_tokenizer_name"] = str(tmp)
        tokenizer = HFTokenizer(str(tokenizer_dir), context_length=ctx)
        vlm = build_from_cfg(model_cfg, family="clip", stem="mvlm-toy-clip", tokenizer=tokenizer, seed=seed,
                             force_preprocess_cfg={"interpolation": "bilinear"},
                             meta={"name": name, "source": "toy", "seed": seed, "size": size})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # the saved config names the text folder relatively (openclip_backend.TEXT_CONFIG_DIR)
    vlm.model_cfg["text_cfg"]["hf_model_name"] = "text_config"
    vlm.model_cfg["text_cfg"]["hf_tokenizer_name"] = "text_config"
    return vlm


def build_toy_siglip2(tokenizer_dir, size: dict, seed: int, name: str = "toy-siglip2") -> VisionLanguageModel:
    """The SigLIP2 family's toy: a fixed-resolution transformers ``SiglipModel`` (``model_type: siglip``,
    ``SiglipImageProcessor``), as the paper's ``google/siglip2-base-patch16-224`` is; its text is
    lower-cased before tokenization, as SigLIP2's (train the tokenizer on lower-cased text)."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipTextConfig, SiglipVisionConfig

    from .transformers_backend import TransformersModel

    tok = _load_tokenizer(tokenizer_dir)
    ctx = int(size["context_length"])
    text_config = SiglipTextConfig(
        vocab_size=len(tok),
        hidden_size=size["text_width"],
        intermediate_size=int(size["text_width"] * size["text_mlp_ratio"]),
        num_hidden_layers=size["text_layers"],
        num_attention_heads=size["text_heads"],
        max_position_embeddings=ctx,
        projection_size=size["vision_width"],
        pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
    )
    vision_config = SiglipVisionConfig(
        hidden_size=size["vision_width"],
        intermediate_size=int(size["vision_width"] * size["vision_mlp_ratio"]),
        num_hidden_layers=size["vision_layers"],
        num_attention_heads=size["vision_heads"],
        image_size=int(size["image_size"]),
        patch_size=int(size["patch_size"]),
    )
    config = SiglipConfig(text_config=text_config.to_dict(), vision_config=vision_config.to_dict())
    torch.manual_seed(seed)
    model = SiglipModel(config)
    with torch.no_grad():  # SigLIP's initialisation: t' = log 10, b = -10 (configurable)
        model.logit_scale.fill_(math.log(float(size["init_logit_scale"])))
        model.logit_bias.fill_(float(size["init_logit_bias"]))
    side = int(size["image_size"])
    # the published checkpoints' processor: resize to the model's side (bilinear), scale to [-1, 1]
    image_processor = SiglipImageProcessor(size={"height": side, "width": side}, resample=2,
                                           image_mean=[0.5] * 3, image_std=[0.5] * 3)
    vlm = TransformersModel("siglip2", model, tok, image_processor, ctx,
                            meta={"name": name, "source": "toy", "seed": seed, "size": size})
    vlm.text_normalization = ("lowercase",)
    return vlm


def build_toy_teacher(family: str, tokenizer_dir: str | os.PathLike, size_config: dict | None = None,
                      seed: int = 0, name: str | None = None) -> VisionLanguageModel:
    """A randomly initialised tiny teacher of ``family`` (pretrain it with ``pretrain_teacher``)."""
    check_family(family)
    size = resolve_size(size_config)
    if family == "clip":
        vlm = build_toy_clip(tokenizer_dir, size, seed, name=name or "toy-clip")
    else:
        vlm = build_toy_siglip2(tokenizer_dir, size, seed, name=name or "toy-siglip2")
    vlm.meta["role"] = "teacher"
    return vlm
