"""The model card (``README.md`` in Hub model-card format) of an exported student.

Metadata from ``huggingface_hub``'s :class:`~huggingface_hub.ModelCardData` (languages, licence with
its name and link, base model, datasets, tags, library and a ``model-index`` with the student's
R@10 and retention per benchmark, language and task), then what the student is, how it was made,
its size and its per-language retention with the study's bootstrap intervals, and a usage snippet
with the stock loaders that runs as written from any directory once :data:`SNIPPET_FOLDER` and
:data:`SNIPPET_IMAGE` name the export and an image (tests run it without this project).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .config import TEACHER_RECORD  # beside a teacher this project made (models/recipe.py)

#: the first lines of the usage snippet; tests (and users) point them at the folder or Hub id and an image
SNIPPET_FOLDER = 'export_dir = "{folder}"  # this folder, wherever it is now (or its Hub id)'
SNIPPET_IMAGE = 'image_path = "{image}"  # any image'
HEADLINE_METRIC = "R@10"
RETRIEVAL_TASKS = {"t2i": "text→image", "i2t": "image→text"}
#: task types of the model-index entries (retrieval has no Hub task id; huggingface_hub groups the
#: metrics of one task type and dataset under one task)
TASK_TYPES = {"t2i": "text-to-image-retrieval", "i2t": "image-to-text-retrieval"}
#: open_clip loads an export's HF text tower from the folder only when told where it is (export.stock_open_clip)
LOCAL_TEXT_TOWER = [
    f'with open(f"{{export_dir}}/open_clip_config.json", encoding="utf-8") as f:',
    '    text_cfg = json.load(f)["model_cfg"]["text_cfg"]',
    "# open_clip opens the HF text tower it names relative to the working directory: name this folder",
    'text_cfg.update(hf_model_name=export_dir, hf_model_pretrained=False)',
]
LOCAL_CREATE = 'open_clip.create_model_and_transforms(f"local-dir:{export_dir}", text_cfg=text_cfg)'
HUB_CREATE = 'open_clip.create_model_and_transforms(f"hf-hub:{export_dir}")'


def _retention_rows(metrics: pd.DataFrame, model: str, method: str, seed: int) -> pd.DataFrame:
    """Student and teacher R@10 (with intervals) per benchmark, language and task, and retention."""
    m = metrics[(metrics["model"] == model) & (metrics["metric"] == HEADLINE_METRIC)
                & metrics["task"].isin(list(RETRIEVAL_TASKS))]
    student = m[(m["method"] == method) & (m["seed"].astype("Int64") == seed)]
    teacher = m[m["method"] == "teacher"]
    joined = student.merge(teacher, on=["benchmark", "language", "task"], suffixes=("", "_teacher"))
    joined["retention"] = [v / t if t > 0 else float("nan") for v, t in zip(joined["value"], joined["value_teacher"])]
    return joined


#: the project's licence: toy teachers it made, and their students, are under it
PROJECT_LICENSE = "apache-2.0"


def base_model(spec: dict) -> str | None:
    """The Hub id of a teacher: an ``hf`` checkpoint that is not a local folder, or the Hub repository
    open_clip keeps the weights of a pretrained tag in; None for local and toy teachers."""
    checkpoint, pretrained = spec.get("checkpoint"), spec.get("pretrained")
    if spec.get("source") == "hf" and checkpoint and not Path(checkpoint).exists():
        return checkpoint
    if spec.get("source") == "open_clip" and checkpoint and pretrained and not Path(str(pretrained)).exists():
        import open_clip

        # hf_hub is 'org/name/' or 'org/name/file'
        parts = (open_clip.get_pretrained_cfg(checkpoint, pretrained) or {}).get("hf_hub", "").strip("/").split("/")
        return "/".join(parts[:2]) if len(parts) >= 2 else None
    return None


def teacher_folder(spec: dict) -> Path | None:
    """The local folder of a teacher (an ``hf`` checkpoint folder, an open_clip config's folder), or None."""
    if spec.get("source") == "hf" and spec.get("checkpoint") and Path(spec["checkpoint"]).is_dir():
        return Path(spec["checkpoint"])
    if spec.get("source") == "open_clip" and spec.get("config"):
        return Path(spec["config"]).parent
    return None


def licence(spec: dict) -> dict:
    """The card's licence fields for a student of the teacher ``spec``: the config's ``license``; the
    project's for toy teachers it made; otherwise ``other``, named as the teacher's and linked to its
    Hub page where it has one."""
    if spec.get("license"):
        return {"license": spec["license"]}
    folder = teacher_folder(spec)
    if spec.get("source") == "toy" or (folder is not None and (folder / TEACHER_RECORD).is_file()):
        return {"license": PROJECT_LICENSE}
    hub = base_model(spec)
    return {"license": "other", "license_name": "teacher-license",
            **({"license_link": f"https://huggingface.co/{hub}"} if hub else {})}


def card_data(facts: dict, info: dict, metrics: pd.DataFrame):
    """The card's metadata as ``huggingface_hub.ModelCardData``."""
    from huggingface_hub import EvalResult, ModelCardData

    tags = ["knowledge-distillation", "multilingual", "vision-language", info["family"], "mvlm-distill"]
    if info.get("trimmed"):
        tags.append("vocabulary-trimming")
    results = []
    for _, r in _retention_rows(metrics, facts["model"], facts["method"], int(facts["seed"])).iterrows():
        task = f"{RETRIEVAL_TASKS[r['task']]} retrieval"
        common = {"task_type": TASK_TYPES[r["task"]], "task_name": task,
                  "dataset_type": facts.get("benchmark_ids", {}).get(r["benchmark"], r["benchmark"]),
                  "dataset_name": f"{r['benchmark']} ({r['language']})", "dataset_config": r["language"],
                  "dataset_split": facts.get("evaluation_split", "test")}
        results.append(EvalResult(**common, metric_type="recall_at_10", metric_name=f"{task} {HEADLINE_METRIC}",
                                  metric_value=round(float(r["value"]), 4)))
        if r["retention"] == r["retention"]:  # not NaN (a teacher at 0)
            results.append(EvalResult(**common, metric_type="retention",
                                      metric_name=f"{task} {HEADLINE_METRIC} retention (student / teacher)",
                                      metric_value=round(float(r["retention"]), 4)))
    licence = facts["license"]
    return ModelCardData(
        language=list(facts["languages"]), license=licence["license"], license_name=licence.get("license_name"),
        license_link=licence.get("license_link"), library_name=info["library"], base_model=facts.get("base_model"),
        datasets=facts.get("datasets") or None, tags=tags, pipeline_tag="zero-shot-image-classification",
        model_name=facts["name"], eval_results=results or None)


def _count(n) -> str:
    n = float(n)
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{int(n):,}"


def parameter_table(info: dict, teacher: dict | None) -> str:
    """Teacher / student parameter counts, with and without the token embedding matrix."""
    rows = []
    untrimmed = info["untrimmed"]
    if teacher:
        emb = untrimmed["token_embedding_parameters"]  # the student copies the teacher's embedding matrix
        rows.append(("teacher", teacher.get("text_layers", ""), untrimmed["vocabulary_size"], teacher["text_parameters"],
                     emb, teacher["total_parameters"]))
    layers = info["meta"].get("layer_map") or []
    if info.get("trimmed"):
        rows.append(("student, full vocabulary", len(layers), untrimmed["vocabulary_size"], untrimmed["text_parameters"],
                     untrimmed["token_embedding_parameters"], untrimmed["total_parameters"]))
    rows.append(("student" + (", trimmed vocabulary (this export)" if info.get("trimmed") else " (this export)"),
                 len(layers), info["vocabulary_size"], info["text_parameters"], info["token_embedding_parameters"],
                 info["total_parameters"]))
    out = ["| model | text layers | vocabulary | text tower | token embeddings | text tower without token embeddings "
           "| total (with image tower) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, n_layers, vocab, text, emb, total in rows:
        out.append(f"| {name} | {n_layers} | {int(vocab):,} | {_count(text)} | {_count(emb)} | "
                   f"{_count(int(text) - int(emb))} | {_count(total)} |")
    return "\n".join(out)


def retention_table(metrics: pd.DataFrame, model: str, method: str, seed: int) -> str:
    """Per benchmark and language: teacher and student R@10 with their bootstrap intervals, and retention."""
    joined = _retention_rows(metrics, model, method, seed)
    if joined.empty:
        return "No retrieval scores of this student were in the study's tables."
    out = [f"| benchmark | language | task | teacher {HEADLINE_METRIC} [95% CI] | student {HEADLINE_METRIC} [95% CI] "
           "| retention |", "|---|---|---|---|---|---:|"]
    for _, r in joined.iterrows():
        out.append(f"| {r['benchmark']} | {r['language']} | {RETRIEVAL_TASKS[r['task']]} | "
                   f"{r['value_teacher']:.3f} [{r['ci_low_teacher']:.3f}, {r['ci_high_teacher']:.3f}] | "
                   f"{r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['retention']:.3f} |")
    return "\n".join(out)


def usage_snippet(info: dict, folder: str, examples: list[str], image: str = "photo.jpg") -> str:
    """Python that embeds ``examples`` and an image with the stock loaders only (no import of this project)."""
    texts = json.dumps(examples, ensure_ascii=False)
    head = ["```python", SNIPPET_FOLDER.format(folder=folder), SNIPPET_IMAGE.format(image=image)]
    if info["library"] == "open_clip":
        hf = info.get("hf_text_tower", True)
        return "\n".join([
            *head, *(["import json"] if hf else []), "import open_clip", "import torch", "from PIL import Image", "",
            *(LOCAL_TEXT_TOWER if hf else []),
            "model, _, preprocess = " + (LOCAL_CREATE if hf else LOCAL_CREATE.split(", text_cfg")[0] + ")"),
            'tokenizer = open_clip.get_tokenizer(f"local-dir:{export_dir}")',
            "model.eval()",
            f"texts = {texts}",
            "with torch.no_grad():",
            "    text = model.encode_text(tokenizer(texts))",
            "    image = model.encode_image(preprocess(Image.open(image_path).convert(\"RGB\")).unsqueeze(0))",
            "text = text / text.norm(dim=-1, keepdim=True)",
            "image = image / image.norm(dim=-1, keepdim=True)",
            "similarity = text @ image.T",
            "```"])
    lower = "lower-cases, " if "lowercase" in info.get("text_normalization", []) else ""
    return "\n".join([
        *head, "import torch", "from PIL import Image", "from transformers import AutoModel, AutoProcessor", "",
        "model = AutoModel.from_pretrained(export_dir).eval()",
        "processor = AutoProcessor.from_pretrained(export_dir)",
        f"texts = {texts}",
        f"# the processor {lower}pads and truncates to {info['context_length']} tokens, as in distillation",
        'text_inputs = processor(text=texts, return_tensors="pt")',
        'image_inputs = processor(images=[Image.open(image_path).convert("RGB")], return_tensors="pt")',
        "with torch.no_grad():",
        "    text = model.get_text_features(**text_inputs).pooler_output",
        "    image = model.get_image_features(**image_inputs).pooler_output",
        "text = text / text.norm(dim=-1, keepdim=True)",
        "image = image / image.norm(dim=-1, keepdim=True)",
        "logits = text @ image.T * model.logit_scale.exp() + model.logit_bias",
        "```"])


def tokenizer_note(info: dict) -> str:
    if info["library"] == "open_clip":
        return ("No file of this folder names where it was written, so it loads the same after a copy or a move. "
                "open_clip 3.3 resolves an HF text tower's `hf_model_name` in `open_clip_config.json` against the "
                "working directory (it says `.`: this folder), so the snippet passes open_clip the folder's own "
                "`text_cfg` with the folder named; a Hub copy names its repository and loads with `hf-hub:`.")
    lower = " lower-cases text (as the pipeline did before tokenizing)," if "lowercase" in info.get(
        "text_normalization", []) else ""
    return (f"`AutoProcessor` (and `AutoTokenizer`){lower} pads and truncates to {info['context_length']} tokens by "
            "default, so its token ids are those the student was distilled and evaluated with (the export was "
            "checked against the pipeline's).")


def hub_card(card: str, repo_id: str) -> str:
    """The card of the Hub copy of an export: the snippet loads from the repository."""
    lines = card.split("\n")
    prefix = SNIPPET_FOLDER.split("{")[0]
    lines = [SNIPPET_FOLDER.format(folder=repo_id) if line.startswith(prefix) else line for line in lines]
    lines = [line for line in lines if line not in LOCAL_TEXT_TOWER and line != "import json"]
    return ("\n".join(lines).replace(LOCAL_CREATE, HUB_CREATE)
            .replace('f"local-dir:{export_dir}"', 'f"hf-hub:{export_dir}"'))


def model_card(info: dict, facts: dict, metrics: pd.DataFrame, examples: list[str]) -> str:
    """The README.md of an export. ``facts``: name, model, method, weights, seed, teacher, license (``license``
    and, for ``other``, ``license_name``/``license_link``), languages, base_model, datasets (Hub ids),
    benchmark_ids (benchmark -> Hub id, for the model-index), evaluation_split, distillation (settings),
    corpus (benchmark, split, items per language), teacher_parameters."""
    meta = info["meta"]
    weights = ", ".join(f"{k} × {v:g}" for k, v in facts["weights"].items())
    teacher = facts["teacher"]
    corpus = facts["corpus"]
    per_language = ", ".join(f"{k} {v:,}" for k, v in corpus["items_per_language"].items())
    settings = facts["distillation"]
    trimmed = ""
    if info.get("trimmed"):
        u = info["untrimmed"]
        trimmed = (f"\n\n**Vocabulary trimming.** The text vocabulary keeps the {info['vocabulary_size']:,} of "
                   f"{u['vocabulary_size']:,} tokens that the training corpus (the `{facts['corpus']['split']}` split of "
                   f"`{facts['corpus']['benchmark']}`) in the study's languages"
                   f"{' and an extra text sample' if facts.get('extra_text') else ''} use, plus the special and "
                   f"byte-fallback tokens; the token embedding matrix shrinks from {_count(u['token_embedding_parameters'])} "
                   f"to {_count(info['token_embedding_parameters'])} parameters. Text covered by those tokens is "
                   "segmented and embedded exactly as by the full-vocabulary student; other text may fall back to "
                   "shorter pieces or `<unk>`.")
    body = [
        "---", card_data(facts, info, metrics).to_yaml(), "---", "",
        f"# {facts['name']}", "",
        f"A multilingual text encoder distilled from the {info['family'].upper()} model **{teacher['name']}** "
        f"({teacher['description']}) with [mvlm-distill](https://arxiv.org/abs/2510.26271). "
        f"The text tower keeps the teacher's text layers {meta.get('layer_map')} of {meta.get('teacher_text_layers')}; "
        "**the image tower is the teacher's, unchanged** (frozen during distillation), so image embeddings equal "
        "the teacher's." + trimmed, "",
        "## How it was made", "",
        f"- Method: **{facts['method']}** (loss weights: {weights}); seed {facts['seed']}.",
        f"- Distillation data: the `{corpus['split']}` split of the benchmark `{corpus['benchmark']}`; "
        f"{sum(corpus['items_per_language'].values()):,} caption items ({per_language}).",
        f"- Steps: {settings['steps']}, batch size {settings['batch_size']}, learning rate {settings['lr']:g}"
        f"{', warm-up ' + str(settings['warmup_steps']) if settings.get('warmup_steps') else ''}.",
        f"- Student fingerprint: `{info['student_fingerprint']}`; the teacher's: `{meta.get('teacher_fingerprint')}`.",
        "",
        "## Size", "",
        parameter_table(info, facts.get("teacher_parameters")), "",
        "Token embeddings: the text tower's token embedding matrix (vocabulary × width); position embeddings count "
        "with the rest of the tower.", "",
        "## Retention", "",
        "Retrieval on the study's evaluation benchmarks; intervals are the study's 95% bootstrap intervals of each "
        "score (over test images, this seed); retention is the student's mean divided by the teacher's over the "
        "same queries, the study's one retention (its interval over seeds and images: summary.csv).", "",
        retention_table(metrics, facts["model"], facts["method"], int(facts["seed"])), "",
        "## Usage", "",
        usage_snippet(info, facts.get("folder", "."), examples), "",
        tokenizer_note(info), "",
    ]
    from huggingface_hub import ModelCard

    return ModelCard("\n".join(body)).content


def snippet_code(card: str) -> str:
    """The Python code of the card's usage snippet."""
    start = card.index("```python\n") + len("```python\n")
    return card[start:card.index("```", start)]
