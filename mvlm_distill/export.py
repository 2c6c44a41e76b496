"""Student exports: folders that stock open_clip / transformers loaders open from any working directory.

Layouts (every file 0644, every folder 0755)::

    CLIP family (open_clip)                  SigLIP2 family (transformers)
    open_clip_config.json                    config.json, model.safetensors   (save_pretrained)
    open_clip_model.safetensors              preprocessor_config.json         (image processor)
    config.json          HF text tower       tokenizer.json, tokenizer_config.json
    tokenizer.json, tokenizer_config.json    README.md, mvlm_export.json
    README.md, mvlm_export.json

No file names the folder the export was written to, so a copy or a move loads like the original.

open_clip 3.3 builds an HF text tower with ``AutoConfig.from_pretrained(text_cfg.hf_model_name)``,
resolved against the working directory, not the ``local-dir:`` folder. The export names its text
tower :data:`TEXT_TOWER_HERE` (this folder: right when the working directory is the export) and
the stock way to load it from anywhere, :func:`stock_open_clip` and the card's snippet, passes
open_clip the folder's own ``text_cfg`` with ``hf_model_name`` set to the folder as the caller
names it. Publishing writes the Hub repository id there instead (``hf-hub:`` loading then fetches
the tower's ``config.json`` from the same repository). ``get_tokenizer("local-dir:...")`` reads
the tokenizer from the folder itself.

A SigLIP2 export's tokenizer does what the pipeline does before and around tokenizing, so that
``AutoProcessor`` (and ``AutoTokenizer``) on raw text give the pipeline's token ids: a model with
``text_normalization: lowercase`` gets a lower-casing normaliser in ``tokenizer.json`` (with
Python's final-sigma rule), and ``tokenizer_config.json`` pads and truncates to the context
length by default. :func:`export_student` compares ``AutoProcessor``'s token ids with the
pipeline's on the check captions and refuses to write an export where they differ.

``mvlm_export.json`` records what the export was checked against: the pipeline's text embeddings
of a few captions per language, recomputed through the stock loaders.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .io import temporary_sibling

EXPORT_INFO = "mvlm_export.json"
CARD = "README.md"
OPEN_CLIP_CONFIG = "open_clip_config.json"
OPEN_CLIP_WEIGHTS = "open_clip_model.safetensors"
FILE_MODE, DIR_MODE = 0o644, 0o755
#: largest difference between stock-loaded and pipeline text embeddings an export may show
EMBEDDING_TOLERANCE = 1e-5
#: ``hf_model_name`` of an open_clip export's HF text tower: the export folder itself
TEXT_TOWER_HERE = "."
#: before lower-casing: a capital sigma that ends a word becomes a final sigma, as in ``str.lower``
FINAL_SIGMA = (r"(?<=\p{L})Σ(?!\p{L})", "ς")


class ExportError(RuntimeError):
    """An export could not be written or does not reproduce the pipeline's student."""


# ----------------------------------------------------------------------------- writing


def _write_open_clip(vlm, folder: Path, text_tower_name: str) -> None:
    from safetensors.torch import save_file

    from .models.openclip_backend import _plain_state_dict

    cfg = copy.deepcopy(vlm.saved_model_cfg())
    if vlm.is_hf_text:
        cfg["text_cfg"]["hf_model_name"] = cfg["text_cfg"]["hf_tokenizer_name"] = text_tower_name
        vlm.model.text.config.save_pretrained(folder)
    (folder / OPEN_CLIP_CONFIG).write_text(
        json.dumps({"model_cfg": cfg, "preprocess_cfg": vlm.preprocess_cfg}, indent=2) + "\n", encoding="utf-8")
    inner = getattr(vlm.tokenizer, "tokenizer", None)
    if inner is not None:
        inner.save_pretrained(folder)
        drop_load_time_keys(folder)
    save_file(_plain_state_dict(vlm.model), str(folder / OPEN_CLIP_WEIGHTS), metadata={"format": "pt"})


def _write_transformers(vlm, folder: Path) -> None:
    from transformers.utils import logging as hf_logging

    config_logger = hf_logging.get_logger("transformers.configuration_utils")
    level = config_logger.level
    config_logger.setLevel(hf_logging.ERROR)  # default-config diffs warn about ids this model does not use
    try:
        vlm.model.save_pretrained(folder, safe_serialization=True)
    finally:
        config_logger.setLevel(level)
    vlm.image_processor.save_pretrained(folder)
    vlm.tokenizer.save_pretrained(folder)
    drop_load_time_keys(folder)


# how this process happened to load the tokenizer (offline, from a folder), not what it is: a copy
# that keeps them refuses the Hub wherever it goes
LOAD_TIME_KEYS = ("local_files_only", "is_local")


def drop_load_time_keys(folder: Path) -> None:
    path = folder / "tokenizer_config.json"
    if path.is_file():
        cfg = json.loads(path.read_text(encoding="utf-8"))
        if any(k in cfg for k in LOAD_TIME_KEYS):
            path.write_text(json.dumps({k: v for k, v in cfg.items() if k not in LOAD_TIME_KEYS}, indent=2) + "\n",
                            encoding="utf-8")


def ordinary_permissions(folder: Path) -> None:
    """0644 files, 0755 folders: an export is read by a whole group (safetensors writes 0600)."""
    os.chmod(folder, DIR_MODE)
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(Path(root) / d, DIR_MODE)
        for f in files:
            os.chmod(Path(root) / f, FILE_MODE)


def _tokenize_as_the_pipeline(folder: Path, vlm) -> None:
    """Make the saved tokenizer normalise, pad and truncate as the pipeline does around it."""
    from tokenizers import Regex, Tokenizer, normalizers

    if "lowercase" in vlm.text_normalization:
        path = folder / "tokenizer.json"
        tok = Tokenizer.from_file(str(path))
        steps = [normalizers.Replace(Regex(FINAL_SIGMA[0]), FINAL_SIGMA[1]), normalizers.Lowercase()]
        tok.normalizer = normalizers.Sequence(steps + ([tok.normalizer] if tok.normalizer is not None else []))
        tok.save(str(path))
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    # TokenizersBackend: AutoTokenizer reads tokenizer.json as written (a class of its own may rebuild it)
    cfg.update(tokenizer_class="TokenizersBackend", model_max_length=vlm.context_length, padding="max_length",
               max_length=vlm.context_length, truncation=True)
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- stock loading


def stock_open_clip(folder: str | os.PathLike):
    """``(model, preprocess, tokenizer)`` of an open_clip export with open_clip's public API only, from
    any working directory: open_clip is given the folder's own ``text_cfg`` with the HF text tower
    named by ``folder`` (what the card's snippet does)."""
    import open_clip

    folder = str(folder)
    with open(os.path.join(folder, OPEN_CLIP_CONFIG), encoding="utf-8") as f:
        text_cfg = json.load(f)["model_cfg"]["text_cfg"]
    kwargs = {}
    if text_cfg.get("hf_model_name"):
        kwargs["text_cfg"] = {**text_cfg, "hf_model_name": folder, "hf_model_pretrained": False}
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", **kwargs)
    return model.eval(), preprocess, open_clip.get_tokenizer(f"local-dir:{folder}")


def stock_text_embeddings(folder: str | os.PathLike, library: str, texts: list[str]) -> np.ndarray:
    """L2-normalised text embeddings of raw ``texts`` computed with the libraries' public loaders only
    (SigLIP2: ``AutoProcessor``, which normalises and pads as the pipeline)."""
    import torch

    folder = str(folder)
    with torch.no_grad():
        if library == "open_clip":
            model, _, tokenizer = stock_open_clip(folder)
            features = model.encode_text(tokenizer(texts))
        else:
            import transformers

            model = transformers.AutoModel.from_pretrained(folder).eval()
            inputs = transformers.AutoProcessor.from_pretrained(folder)(text=texts, return_tensors="pt")
            out = model.get_text_features(**inputs)
            features = getattr(out, "pooler_output", out)
        return torch.nn.functional.normalize(features, dim=-1).numpy()


def processor_mismatch(folder: str | os.PathLike, vlm, texts: list[str]) -> str | None:
    """The first of ``texts`` that ``AutoProcessor`` on the export tokenizes otherwise than the pipeline
    (token ids, and the attention mask where the processor gives one); None when all agree."""
    import transformers

    stock = transformers.AutoProcessor.from_pretrained(str(folder))(text=list(texts), return_tensors="pt")
    pipeline = vlm.tokenize(texts)
    for i, text in enumerate(texts):
        for key in ("input_ids", "attention_mask"):
            if key in stock and (stock[key].shape[1] != pipeline[key].shape[1]
                                 or not bool((stock[key][i] == pipeline[key][i]).all())):
                return text
    return None


# ----------------------------------------------------------------------------- the export


def export_student(student_dir: str | os.PathLike, out_dir: str | os.PathLike, *, check_texts: list[str],
                   kept_token_ids: list[int] | None = None, card=None) -> dict:
    """Write the export of the student in ``student_dir`` to ``out_dir``; returns its ``mvlm_export.json``.

    ``check_texts``: captions (several languages, covered by the trimmed vocabulary if any) whose
    stock-loaded embeddings must equal the pipeline's. ``kept_token_ids``: trim the vocabulary to these
    ids. ``card``: a callable ``card(info) -> str`` writing the model card from the export's facts.
    """
    import torch

    from .models import load_model
    from .models.vocabulary import embedding_parameter_count, embedding_rows, trim_vocabulary

    student = load_model({"source": "saved", "path": str(student_dir)})
    with torch.no_grad():
        reference = student.encode_text(student.tokenize(check_texts)).numpy()
    exported = trim_vocabulary(student, kept_token_ids) if kept_token_ids is not None else student
    out = Path(out_dir)
    work = temporary_sibling(out)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        if exported.library == "open_clip":
            _write_open_clip(exported, work, TEXT_TOWER_HERE)
        else:
            _write_transformers(exported, work)
            _tokenize_as_the_pipeline(work, exported)
        # the export's own files, so that publishing uploads these and nothing Snakemake adds to the folder
        files = [p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()]
        files += ([CARD] if card is not None else []) + [EXPORT_INFO]
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
        tokenizer = "open_clip"
        if exported.library == "transformers":
            tokenizer = "AutoProcessor"
            odd = processor_mismatch(out, exported, check_texts)
            if odd is not None:
                raise ExportError(f"{out}: AutoProcessor tokenizes {odd!r} otherwise than the pipeline, so stock "
                                  "users would get other scores; the student's tokenizer cannot be exported as is")
        stock = stock_text_embeddings(out, exported.library, check_texts)
        diff = float(np.abs(stock - reference).max())
        if not diff <= EMBEDDING_TOLERANCE:
            raise ExportError(f"{out}: stock-loaded text embeddings differ from the pipeline's by {diff:.2e} "
                              f"(tolerance {EMBEDDING_TOLERANCE:.0e})")
        info = {
            "family": exported.family,
            "library": exported.library,
            "student_fingerprint": student.fingerprint(),
            "meta": student.meta,
            "context_length": exported.context_length,
            "stock_tokenizer": tokenizer,
            "hf_text_tower": bool(getattr(exported, "is_hf_text", False)),
            "text_normalization": list(exported.text_normalization),
            "checked_texts": len(check_texts),
            "max_embedding_difference": diff,
            "text_parameters": exported.text_parameter_count(),
            "total_parameters": exported.total_parameter_count(),
            "image_parameters": exported.image_parameter_count(),
            "token_embedding_parameters": embedding_parameter_count(exported),
            "vocabulary_size": embedding_rows(exported),
            "untrimmed": {
                "text_parameters": student.text_parameter_count(),
                "total_parameters": student.total_parameter_count(),
                "token_embedding_parameters": embedding_parameter_count(student),
                "vocabulary_size": embedding_rows(student),
            },
            "trimmed": kept_token_ids is not None,
            "files": sorted(set(files)),
        }
        if card is not None:
            (out / CARD).write_text(card(info), encoding="utf-8")
        (out / EXPORT_INFO).write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n",
                                       encoding="utf-8")
        ordinary_permissions(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        raise
    return info


def check_captions(captions, languages: list[str], per_language: int = 2) -> list[str]:
    """A few captions of each language, spread over the table, for the export check."""
    texts = []
    for language in languages:
        rows = captions[captions["language"] == language]["text"].tolist()
        texts += rows[:: max(1, len(rows) // per_language)][:per_language]
    if not texts:
        raise ExportError(f"no captions in the languages {languages} to check the export with")
    return texts
