"""The model card (``README.md`` in Hub model-card format) of an exported student.

YAML metadata (languages, licence, base model, tags, library), then what the student is, how it
was made, its size and its per-language retention with the study's bootstrap intervals, and a
usage snippet with the stock loaders (tests run it).
"""

from __future__ import annotations

import json

import pandas as pd

#: the first line of the usage snippet; tests (and users) point it at the folder or Hub id
SNIPPET_FOLDER = 'export_dir = "{folder}"'
HEADLINE_METRIC = "R@10"
RETRIEVAL_TASKS = {"t2i": "text→image", "i2t": "image→text"}


def _yaml_list(values) -> str:
    return "[" + ", ".join(json.dumps(str(v)) for v in values) + "]"


def front_matter(facts: dict, info: dict) -> str:
    lines = ["---", f"language: {_yaml_list(facts['languages'])}", f"license: {facts['license']}",
             f"library_name: {info['library']}"]
    if facts.get("base_model"):
        lines.append(f"base_model: {facts['base_model']}")
    tags = ["knowledge-distillation", "multilingual", "vision-language", info["family"], "mvlm-distill"]
    if info.get("trimmed"):
        tags.append("vocabulary-trimming")
    lines += [f"tags: {_yaml_list(tags)}", "pipeline_tag: zero-shot-image-classification", "---"]
    return "\n".join(lines)


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
    m = metrics[(metrics["model"] == model) & (metrics["metric"] == HEADLINE_METRIC)
                & metrics["task"].isin(list(RETRIEVAL_TASKS))]
    student = m[(m["method"] == method) & (m["seed"].astype("Int64") == seed)]
    teacher = m[m["method"] == "teacher"]
    if student.empty:
        return "No retrieval scores of this student were in the study's tables."
    keys = ["benchmark", "language", "task"]
    joined = student.merge(teacher, on=keys, suffixes=("", "_teacher"))
    out = [f"| benchmark | language | task | teacher {HEADLINE_METRIC} [95% CI] | student {HEADLINE_METRIC} [95% CI] "
           "| retention |", "|---|---|---|---|---|---:|"]
    for _, r in joined.iterrows():
        retention = r["value"] / r["value_teacher"] if r["value_teacher"] > 0 else float("nan")
        out.append(f"| {r['benchmark']} | {r['language']} | {RETRIEVAL_TASKS[r['task']]} | "
                   f"{r['value_teacher']:.3f} [{r['ci_low_teacher']:.3f}, {r['ci_high_teacher']:.3f}] | "
                   f"{r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {retention:.3f} |")
    return "\n".join(out)


def usage_snippet(info: dict, folder: str, examples: list[str]) -> str:
    texts = json.dumps(examples, ensure_ascii=False)
    first = SNIPPET_FOLDER.format(folder=folder)
    if info["library"] == "open_clip":
        return "\n".join([
            "```python", first, "import open_clip", "import torch", "from PIL import Image", "",
            'model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{export_dir}")',
            'tokenizer = open_clip.get_tokenizer(f"local-dir:{export_dir}")',
            "model.eval()",
            f"texts = {texts}",
            "with torch.no_grad():",
            "    text = model.encode_text(tokenizer(texts))",
            '    image = model.encode_image(preprocess(Image.open("photo.jpg").convert("RGB")).unsqueeze(0))',
            "text = text / text.norm(dim=-1, keepdim=True)",
            "image = image / image.norm(dim=-1, keepdim=True)",
            "similarity = text @ image.T",
            "```"])
    tok_class = "AutoTokenizer" if info.get("stock_tokenizer") == "auto" else "PreTrainedTokenizerFast"
    return "\n".join([
        "```python", first, "import torch", "from PIL import Image",
        f"from transformers import AutoImageProcessor, AutoModel, {tok_class}", "",
        "model = AutoModel.from_pretrained(export_dir).eval()",
        f"tokenizer = {tok_class}.from_pretrained(export_dir)",
        "image_processor = AutoImageProcessor.from_pretrained(export_dir)",
        f"texts = {texts}",
        *(["texts = [t.lower() for t in texts]  # the model reads lower-cased text, as SigLIP2"]
          if "lowercase" in info.get("text_normalization", []) else []),
        f'inputs = tokenizer(texts, padding="max_length", max_length={info["context_length"]}, truncation=True, '
        'return_tensors="pt")',
        'pixels = image_processor(images=[Image.open("photo.jpg").convert("RGB")], return_tensors="pt")',
        "with torch.no_grad():",
        "    text = model.get_text_features(**inputs).pooler_output",
        "    image = model.get_image_features(**pixels).pooler_output",
        "text = text / text.norm(dim=-1, keepdim=True)",
        "image = image / image.norm(dim=-1, keepdim=True)",
        "logits = text @ image.T * model.logit_scale.exp() + model.logit_bias",
        "```"])


def tokenizer_note(info: dict) -> str:
    if info["library"] == "open_clip":
        return ("open_clip 3.3 resolves the text tower's `hf_model_name` in `open_clip_config.json` against the working "
                "directory, so the export names its own folder there by absolute path. After moving the folder, run "
                "`python -c \"from mvlm_distill.export import point_text_tower; point_text_tower('NEW/PATH')\"`; "
                "a Hub copy names its repository instead.")
    if info.get("stock_tokenizer") == "auto":
        return "`AutoTokenizer` and `AutoProcessor` load this tokenizer as it was used in distillation."
    return ("transformers replaces the tokenizer of any `siglip2` folder by its own `Siglip2Tokenizer` (a lowercasing "
            "Gemma BPE). This student's vocabulary is not Gemma's, so load it with `PreTrainedTokenizerFast` as below; "
            "`AutoTokenizer`/`AutoProcessor` would segment text differently. `AutoImageProcessor` is right for images.")


def model_card(info: dict, facts: dict, metrics: pd.DataFrame, examples: list[str]) -> str:
    """The README.md of an export. ``facts``: name, model, method, weights, seed, teacher, license, languages,
    base_model, distillation (settings), corpus (benchmark, split, items per language), teacher_parameters."""
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
        front_matter(facts, info), "",
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
    return "\n".join(body)


def snippet_code(card: str) -> str:
    """The Python code of the card's usage snippet."""
    start = card.index("```python\n") + len("```python\n")
    return card[start:card.index("```", start)]
