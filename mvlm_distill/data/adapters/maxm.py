"""MaXM: multilingual VQA on Crossmodal-3600 images in 7 languages -> benchmark format (VQA).

Published layout (https://github.com/google-research-datasets/maxm; ``maxm_v1_release.zip``,
157 KB): one JSON file per language, each::

    {"dataset": "maxm", "version": "v1", "split": "<language id>",
     "annotations": [
        {"image_id": "<XM3600 image key>", "image_url": "https://...",
         "qa_pairs": [
            {"question_id": "...", "question": "...", "answers": ["..."],
             "processed_answers": ["..."], "is_collection": false}, ...]}, ...]}

The language id is ``split`` (``en fr hi iw ro th zh``; Hebrew ``iw`` becomes ``he``). The
adapter reads every ``*.json`` file below the source folder that has these keys, so the file
names inside the zip do not matter. Answers are in the question's language; the ground truth
is the most frequent ``processed_answers`` entry (``answers`` when absent). Questions are
written independently per language (no ``parallel_id``). Images: XM3600 (``<image_id>.jpg``).

Candidates are, per language, the ``candidates_top_n`` most frequent ground-truth answers
(``None``: every distinct answer of that language); out-of-vocabulary questions are dropped
or get their answer in place of the rarest candidate (``out_of_vocab``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import MAXM_LANGUAGES, normalize_language

NAME = "maxm"
LANGUAGES = MAXM_LANGUAGES
RELEASE_URL = "https://storage.googleapis.com/maxm/maxm_v1_release.zip"
XM3600_IMAGES_URL = "https://open-images-dataset.s3.amazonaws.com/crossmodal-3600/images.tgz"
HOMEPAGE = "https://github.com/google-research-datasets/maxm"
OOV_POLICIES = ("drop", "replace")


def _language_files(source: Path) -> dict[str, tuple[Path, dict]]:
    paths = [source] if source.is_file() else sorted(source.rglob("*.json"))
    found: dict[str, tuple[Path, dict]] = {}
    for path in paths:
        try:
            data = C.load_json(path)
        except ValueError:
            continue
        if not (isinstance(data, dict) and "annotations" in data and "split" in data):
            continue
        lang = normalize_language(str(data["split"]), NAME)
        if lang in found:
            raise C.AdapterError(f"Dataset {NAME!r}: two files for language {lang!r}: {found[lang][0]} and {path}.")
        found[lang] = (path, data)
    if not found:
        raise C.AdapterError(
            f"Dataset {NAME!r}: no MaXM json file (with 'split' and 'annotations') under {source} "
            f"(unzip {RELEASE_URL} there)."
        )
    return found


def ground_truth(qa: dict) -> str:
    """The most frequent processed answer (first one on ties), or the first raw answer."""
    answers = [str(a).strip() for a in (qa.get("processed_answers") or qa.get("answers") or []) if str(a).strip()]
    if not answers:
        raise C.AdapterError(f"MaXM question {qa.get('question_id')!r} has no answers.")
    counts = Counter(answers)
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)


def prepare(
    source: str | Path,
    out_dir: str | Path,
    *,
    languages=None,
    split: str = "test",
    images_dir=None,
    max_images: int | None = None,
    candidates_top_n: int | None = None,
    out_of_vocab: str = "drop",
    link: str = "copy",
    missing_images: str = "error",
    name: str = NAME,
) -> dict:
    """Convert the unzipped MaXM release (+ XM3600 images) into the benchmark format.

    ``images_dir``: the XM3600 images folder (default ``<source>/images``). MaXM is test-only;
    ``split`` is the split name written.
    """
    source, out_dir = Path(source), Path(out_dir)
    if out_of_vocab not in OOV_POLICIES:
        raise ValueError(f"out_of_vocab must be one of {', '.join(OOV_POLICIES)}, not {out_of_vocab!r}.")
    by_lang = _language_files(source)
    offered = [lang for lang in LANGUAGES if lang in by_lang] + [lang for lang in by_lang if lang not in LANGUAGES]
    wanted_langs = C.select_languages(languages, offered, NAME)

    questions: list[dict] = []
    for lang in wanted_langs:
        path, data = by_lang[lang]
        for entry in data["annotations"]:
            image_id = str(entry["image_id"])
            for qa in entry.get("qa_pairs", []):
                qid = str(qa["question_id"])
                questions.append({
                    "question_id": f"{qid}_{lang}",
                    "parallel_id": "", "image_id": image_id, "language": lang,
                    "question": str(qa["question"]).strip(), "answer": ground_truth(qa),
                })  # fmt: skip
    keep = set(C.first_images((q["image_id"] for q in questions), max_images))
    questions = [q for q in questions if q["image_id"] in keep]

    vocab = {lang: C.answer_vocabulary((q["answer"] for q in questions if q["language"] == lang), candidates_top_n)
             for lang in wanted_langs}  # fmt: skip
    rows, dropped = [], 0
    for q in questions:
        lang_vocab = vocab[q["language"]]
        if q["answer"] in lang_vocab:
            candidates = lang_vocab
        elif out_of_vocab == "drop":
            dropped += 1
            continue
        else:
            candidates = lang_vocab[:-1] + [q["answer"]]
        rows.append({**q, "candidates": list(candidates)})
    if dropped:
        C.log.warning("%s: dropped %d questions whose answer is outside the answer vocabulary.", NAME, dropped)

    used = C.first_images(r["image_id"] for r in rows)
    finder = C.ImageFinder(C.as_dirs(images_dir, [source]), subdirs=("", "images"))
    files = C.resolve_images(
        {i: [f"{i}.jpg", f"{i}.png"] for i in used}, finder, out_dir, dataset=NAME, link=link, missing=missing_images
    )
    rows = [r for r in rows if r["image_id"] in files]
    images = [{"image_id": i, "split": split, "file": files[i]} for i in used if i in files]
    return C.write(
        out_dir, name=name, images=images, captions=None, vqa=rows, languages=wanted_langs,
        source=f"MaXM v1 ({HOMEPAGE})",
        extra_meta={"answer_vocabulary_size": {lang: len(v) for lang, v in vocab.items()},
                    "out_of_vocab": out_of_vocab, "questions_dropped_out_of_vocab": dropped},
    )  # fmt: skip


def download(dest: str | Path, *, include_images: bool = True, fetch=None) -> Path:
    """Fetch and unzip the MaXM release (and the XM3600 images it uses) into ``dest``."""
    dest = Path(dest)
    items = [(RELEASE_URL, dest / "maxm_v1_release.zip")]
    if include_images:
        items.append((XM3600_IMAGES_URL, dest / "images.tgz"))
    for path in C.fetch_all(items, fetch):
        if path.name.endswith(".zip"):
            C.extract(path, dest)
        elif not (dest / "images").is_dir():
            C.extract(path, dest / "images")
    return dest
