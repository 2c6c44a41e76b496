"""Tiny stand-ins for the paper's real Hub checkpoints, with their published file layout (for tests).

Nothing can be downloaded here, so tests run the real loaders on folders built like the
published ones, with every size shrunk and random weights:

* :func:`tiny_siglip2_checkpoint`: ``google/siglip2-base-patch16-224`` (``naflex=False``:
  ``config.json`` of ``model_type: siglip`` with ``siglip_text_model``/``siglip_vision_model``
  sub-configs, ``SiglipImageProcessor``) or ``google/siglip2-base-patch16-naflex``
  (``model_type: siglip2``, ``Siglip2ImageProcessor``); both with safetensors weights and
  Gemma tokenizer files (byte-fallback BPE, ``<pad>``/``<eos>``/``<bos>``/``<unk>``/``<mask>``
  at ids 0-4, EOS appended, no BOS, ``model_input_names: [input_ids]``). The sentencepiece
  ``tokenizer.model`` the real repositories also ship is left out: transformers 5 reads
  ``tokenizer.json``.
* :func:`hub_snapshot`: a model or dataset repository in the Hugging Face cache layout
  (``models--<org>--<name>/{blobs,refs/main,snapshots/<revision>}``, ``datasets--...``), what
  ``HF_HOME`` points at when it is loaded offline.
* :func:`tiny_xlmr_hub_cache`: ``xlm-roberta-base``'s config and tokenizer in that layout,
  shrunk, for open_clip's ``xlm-roberta-base-ViT-B-32``.

Everything is deterministic (fixed seeds, sorted inputs).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: special tokens of the Gemma vocabulary, in id order
GEMMA_SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>")

#: captions the tiny tokenizers are trained on: cased and lower-cased, so both segment into pieces
TOKENIZER_CORPUS = (
    "Ein brauner Hund rennt über die Wiese.",
    "Zwei Kinder spielen am Strand mit einem Ball.",
    "Eine Frau fährt Fahrrad in der Stadt.",
    "A brown dog runs across the meadow.",
    "Two children play with a ball on the beach.",
    "A woman rides a bicycle in the city.",
    "Un chien brun court dans le pré.",
    "Deux enfants jouent au ballon sur la plage.",
    "一只棕色的狗在草地上跑。",
    "茶色い犬が草原を走っています。",
)

#: text / vision sizes of the tiny checkpoints (the real base models: 768 wide, 12 layers, 12 heads)
TINY_SIGLIP = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "text_layers": 4,
               "vision_layers": 1, "image_size": 32, "patch_size": 8}

#: NaFlex patch size and patch budget of every published NaFlex checkpoint (and Siglip2Processor's defaults)
NAFLEX_PATCH_SIZE, NAFLEX_MAX_PATCHES = 16, 256


def gemma_tokenizer_files(dest: str | os.PathLike, vocab_size: int = 600) -> Path:
    """Write a Gemma-style tokenizer (``tokenizer.json``, ``tokenizer_config.json``,
    ``special_tokens_map.json``) trained on :data:`TOKENIZER_CORPUS` into ``dest``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import GemmaTokenizer

    dest = Path(dest)
    corpus = sorted(set(TOKENIZER_CORPUS) | {t.lower() for t in TOKENIZER_CORPUS})
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    trainer_tok.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(GEMMA_SPECIALS), show_progress=False)
    trainer_tok.train_from_iterator(corpus, trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    # Gemma's layout: specials, then the 256 byte-fallback tokens, then the learnt pieces
    vocab: dict[str, int] = {}
    pieces = sorted(trained["vocab"], key=trained["vocab"].get)
    for token in list(GEMMA_SPECIALS) + [f"<0x{b:02X}>" for b in range(256)] + pieces:
        vocab.setdefault(token, len(vocab))
    tokenizer = GemmaTokenizer(vocab=vocab, merges=[tuple(m) for m in trained["merges"]],
                               add_bos_token=False, add_eos_token=True, padding_side="right")
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(dest)
    # the keys google/siglip2-base-patch16-224's tokenizer_config.json sets
    config = {
        "add_bos_token": False,
        "add_eos_token": True,
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True}
                                 for i, t in enumerate(GEMMA_SPECIALS)},
        "bos_token": "<bos>",
        "clean_up_tokenization_spaces": False,
        "do_lower_case": True,  # declared, but GemmaTokenizer ignores it: the text arrives cased
        "eos_token": "<eos>",
        "mask_token": "<mask>",
        "model_input_names": ["input_ids"],
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": "<pad>",
        "padding_side": "right",
        "processor_class": "SiglipProcessor",
        "spaces_between_special_tokens": False,
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": "<unk>",
    }
    _write_json(dest / "tokenizer_config.json", config)
    _write_json(dest / "special_tokens_map.json",
                {k: v for k, v in config.items() if k in ("bos_token", "eos_token", "mask_token", "pad_token",
                                                          "unk_token")})
    return dest


def tiny_siglip2_checkpoint(dest: str | os.PathLike, *, naflex: bool = False, seed: int = 0) -> Path:
    """A folder laid out like ``google/siglip2-base-patch16-224`` (or ``-naflex``), sizes shrunk."""
    import torch
    import transformers

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    gemma_tokenizer_files(dest)
    with open(dest / "tokenizer.json", encoding="utf-8") as f:
        vocab_size = len(json.load(f)["model"]["vocab"])
    s = TINY_SIGLIP
    n_patches = (s["image_size"] // s["patch_size"]) ** 2
    if naflex:  # the real patch size and budget: Siglip2Processor imposes them on any image processor
        s = {**s, "patch_size": NAFLEX_PATCH_SIZE}
        n_patches = NAFLEX_MAX_PATCHES
    prefix = "siglip2" if naflex else "siglip"
    text = {"hidden_size": s["hidden_size"], "intermediate_size": s["intermediate_size"],
            "model_type": f"{prefix}_text_model", "num_attention_heads": s["num_attention_heads"],
            "num_hidden_layers": s["text_layers"], "vocab_size": vocab_size}
    vision = {"hidden_size": s["hidden_size"], "intermediate_size": s["intermediate_size"],
              "model_type": f"{prefix}_vision_model", "num_attention_heads": s["num_attention_heads"],
              "num_hidden_layers": s["vision_layers"], "patch_size": s["patch_size"]}
    vision.update({"num_patches": n_patches} if naflex else {"image_size": s["image_size"]})
    # the published config.json names only what differs from the library defaults
    config = {"architectures": ["Siglip2Model" if naflex else "SiglipModel"], "initializer_factor": 1.0,
              "model_type": prefix, "text_config": text, "vision_config": vision}
    processor = {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                 "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098}
    if naflex:
        processor.update({"image_processor_type": "Siglip2ImageProcessor", "max_num_patches": n_patches,
                          "patch_size": s["patch_size"], "processor_class": "Siglip2Processor"})
    else:
        processor.update({"image_processor_type": "SiglipImageProcessor", "processor_class": "SiglipProcessor",
                          "size": {"height": s["image_size"], "width": s["image_size"]}})
    _write_json(dest / "config.json", config)
    _write_json(dest / "preprocessor_config.json", processor)
    model_class = getattr(transformers, config["architectures"][0])
    torch.manual_seed(seed)
    model = model_class(transformers.AutoConfig.from_pretrained(dest))
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(dest / "model.safetensors"),
              metadata={"format": "pt"})
    return dest


def hub_snapshot(hf_home: str | os.PathLike, repo_id: str, files: dict[str, bytes], revision: str,
                 repo_type: str = "model") -> Path:
    """Put ``files`` into the Hub cache under ``hf_home/hub`` as huggingface_hub lays a download out
    (``<type>s--<org>--<name>/``: content in ``blobs/``, ``snapshots/<revision>/<name>`` linking to it,
    ``refs/main``); returns the snapshot folder."""
    repo = Path(hf_home) / "hub" / (f"{repo_type}s--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    for name, content in sorted(files.items()):
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.write_bytes(content)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


#: the folder name of the fixture's snapshot (a made-up commit: only its form matters)
XLMR_FIXTURE_REVISION = hashlib.sha1(b"tiny xlm-roberta-base fixture").hexdigest()

#: the open_clip model config of ``xlm-roberta-base-ViT-B-32`` with the towers shrunk: the same keys
#: (HF text tower named by its Hub id, mean pooler, open_clip's default MLP projection and 77 tokens)
TINY_XLMR_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8},
    "text_cfg": {"hf_model_name": "xlm-roberta-base", "hf_tokenizer_name": "xlm-roberta-base",
                 "hf_pooler_type": "mean_pooler"},
}


def tiny_xlmr_hub_cache(hf_home: str | os.PathLike, revision: str = XLMR_FIXTURE_REVISION,
                        hidden_size: int = 32, layers: int = 4, seed: int = 0) -> Path:
    """``xlm-roberta-base`` in the Hub cache under ``hf_home``, sizes shrunk; returns the snapshot.

    The files the real repository ships for transformers: ``config.json`` (XLM-R base's keys and
    special ids: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, 514 positions), ``tokenizer.json``
    (a small Unigram vocabulary with XLM-R's specials and ``<mask>`` last) and
    ``model.safetensors`` (an ``XLMRobertaForMaskedLM``). The sentencepiece model is left out.
    """
    import tempfile

    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM, XLMRobertaTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(sorted(TOKENIZER_CORPUS), trainer)
    pieces = [(p, s) for p, s in json.loads(tok.to_str())["model"]["vocab"] if p not in specials]
    tokenizer = XLMRobertaTokenizer(vocab=[(t, 0.0) for t in specials] + pieces + [("<mask>", 0.0)])
    config = {
        "architectures": ["XLMRobertaForMaskedLM"], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0,
        "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hidden_size,
        "initializer_range": 0.02, "intermediate_size": 2 * hidden_size, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 514, "model_type": "xlm-roberta", "num_attention_heads": 2,
        "num_hidden_layers": layers, "output_past": True, "pad_token_id": 1,
        "position_embedding_type": "absolute", "type_vocab_size": 1, "vocab_size": len(tokenizer),
    }
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = XLMRobertaForMaskedLM(XLMRobertaConfig(**config))
    with tempfile.TemporaryDirectory(prefix="mvlm-xlmr-") as tmp:
        tokenizer.save_pretrained(tmp)
        save_file({k: v.contiguous() for k, v in model.state_dict().items() if "lm_head.decoder" not in k},
                  str(Path(tmp) / "model.safetensors"), metadata={"format": "pt"})
        files = {name: (Path(tmp) / name).read_bytes() for name in ("tokenizer.json", "model.safetensors")}
    files["config.json"] = json.dumps(config, indent=2, sort_keys=True).encode()
    return hub_snapshot(hf_home, "xlm-roberta-base", files, revision)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
