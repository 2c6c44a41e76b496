"""xGQA: GQA test-dev balanced questions in 8 languages, English answers -> benchmark format (VQA).

Published layout (https://github.com/adapter-hub/xGQA ``data/``, mirrored by IGLUE under
``datasets/xGQA/annotations/``):

- ``zero_shot/testdev_balanced_questions_<lang>.json`` for ``bn de en id ko pt ru zh``: GQA's
  question format, a JSON object keyed by question id::

      {"20968379": {"imageId": "n288870", "question": "Is the sky blue or white?",
                    "answer": "blue", "fullAnswer": "The sky is blue.", "isBalanced": true,
                    "types": {...}, "semantic": [...], "annotations": {...}, ...}, ...}

  Questions are translated; ``answer`` stays the English GQA answer. The same question id in
  two languages is the same question (-> ``parallel_id``).
- ``few_shot/<lang>/{train_<n>,dev,test}.json``: the same format.
- Images: GQA (``images/<imageId>.jpg``, from https://cs.stanford.edu/people/dorarad/gqa/).

Candidates (the answers a model ranks) are the dataset's English answer vocabulary: the
``candidates_top_n`` most frequent answers of the prepared questions, or an ``answer_vocab``
you provide (a list, or a JSON/text file). Questions whose answer is outside the vocabulary are
dropped (``out_of_vocab="drop"``) or get the answer in place of the rarest candidate
(``out_of_vocab="replace"``).
"""

from __future__ import annotations

from pathlib import Path

from mvlm_distill.data.adapters import _common as C
from mvlm_distill.data.languages import XGQA_LANGUAGES, normalize_language

NAME = "xgqa"
LANGUAGES = XGQA_LANGUAGES
ZERO_SHOT_URL = (
    "https://raw.githubusercontent.com/e-bug/iglue/main/datasets/xGQA/annotations/zero_shot/"
    "testdev_balanced_questions_{lang}.json"
)
GQA_IMAGES_URL = "https://downloads.cs.stanford.edu/nlp/data/gqa/images.zip"
HOMEPAGE = "https://github.com/adapter-hub/xGQA"
OOV_POLICIES = ("drop", "replace")
DEFAULT_TOP_N = 200


def _roots(source: Path) -> list[Path]:
    return [source, source / "data", source / "annotations", source / "datasets" / "xGQA" / "annotations"]


def _question_files(source: Path, split: str) -> dict[str, Path]:
    """``{language: file}`` of the split: ``testdev`` (zero-shot) or a few-shot file stem."""
    found: dict[str, Path] = {}
    for root in _roots(source):
        if split == "testdev":
            for folder in (root / "zero_shot", root):
                if not folder.is_dir():
                    continue
                for path in sorted(folder.glob("testdev_balanced_questions_*.json*")):
                    raw = path.name.split("testdev_balanced_questions_", 1)[1].split(".", 1)[0]
                    found.setdefault(normalize_language(raw, NAME), path)
        else:
            folder = root / "few_shot"
            if folder.is_dir():
                for lang_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
                    path = C.find_variant(lang_dir / f"{split}.json")
                    if path:
                        found.setdefault(normalize_language(lang_dir.name, NAME), path)
        if found:
            return found
    where = (
        "zero_shot/testdev_balanced_questions_<lang>.json" if split == "testdev" else f"few_shot/<lang>/{split}.json"
    )
    raise C.AdapterError(f"Dataset {NAME!r}: no {where} under {source}.")


def _records(path: Path):
    data = C.load_json(path)
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = ((r.get("questionId", r.get("question_id")), r) for r in data)
    else:
        raise C.AdapterError(f"{path}: expected a JSON object keyed by question id.")
    for qid, record in items:
        if qid is None or not isinstance(record, dict):
            raise C.AdapterError(f"{path}: every entry needs a question id and an object.")
        for field in ("imageId", "question", "answer"):
            if field not in record:
                raise C.AdapterError(f"{path}: question {qid} has no {field!r} field.")
        yield str(qid), record


def benchmark_split(split: str) -> str:
    if split in ("testdev", "test"):
        return "test"
    return "val" if split == "dev" else "train"


def prepare(
    source: str | Path,
    out_dir: str | Path,
    *,
    languages=None,
    split: str = "testdev",
    images_dir=None,
    max_images: int | None = None,
    candidates_top_n: int | None = DEFAULT_TOP_N,
    answer_vocab=None,
    out_of_vocab: str = "drop",
    link: str = "copy",
    missing_images: str = "error",
    name: str = NAME,
) -> dict:
    """Convert local xGQA question files (+ GQA images) into the benchmark format.

    ``split``: ``testdev`` (zero-shot files) or a few-shot stem (``dev``, ``test``, ``train_<n>``).
    ``images_dir``: the GQA ``images`` folder (default ``<source>/images``).
    """
    source, out_dir = Path(source), Path(out_dir)
    if out_of_vocab not in OOV_POLICIES:
        raise ValueError(f"out_of_vocab must be one of {', '.join(OOV_POLICIES)}, not {out_of_vocab!r}.")
    files_by_lang = _question_files(source, split)
    offered = [lang for lang in LANGUAGES if lang in files_by_lang]
    wanted_langs = C.select_languages(languages, offered, NAME)

    questions: list[tuple[str, str, dict]] = []  # lang, qid, record
    for lang in wanted_langs:
        questions += [(lang, qid, rec) for qid, rec in _records(files_by_lang[lang])]
    keep = set(C.first_images((str(rec["imageId"]) for _, _, rec in questions), max_images))
    questions = [q for q in questions if str(q[2]["imageId"]) in keep]

    if answer_vocab is not None:
        vocab = C.read_vocab_file(answer_vocab) if isinstance(answer_vocab, (str, Path)) else list(answer_vocab)
        vocab = vocab if candidates_top_n is None else vocab[:candidates_top_n]
    else:
        # one count per question (not per language), so every language gets the same vocabulary
        per_question = {qid: str(rec["answer"]).strip() for _, qid, rec in questions}
        vocab = C.answer_vocabulary(per_question.values(), candidates_top_n)
    in_vocab = set(vocab)

    rows, dropped = [], 0
    for lang, qid, rec in questions:
        answer = str(rec["answer"]).strip()
        candidates = vocab
        if answer not in in_vocab:
            if out_of_vocab == "drop":
                dropped += 1
                continue
            candidates = vocab[:-1] + [answer] if vocab else [answer]
        rows.append({
            "question_id": f"{qid}_{lang}", "parallel_id": qid, "image_id": str(rec["imageId"]),
            "language": lang, "question": str(rec["question"]).strip(), "answer": answer,
            "candidates": list(candidates),
        })  # fmt: skip
    if dropped:
        C.log.warning("%s: dropped %d questions whose answer is outside the %d-answer vocabulary.",
                      NAME, dropped, len(vocab))  # fmt: skip

    used = C.first_images(r["image_id"] for r in rows)
    finder = C.ImageFinder(C.as_dirs(images_dir, [source]), subdirs=("", "images"))
    files = C.resolve_images(
        {i: [f"{i}.jpg", f"{i}.png"] for i in used}, finder, out_dir, dataset=NAME, link=link, missing=missing_images
    )
    bsplit = benchmark_split(split)
    rows = [r for r in rows if r["image_id"] in files]
    images = [{"image_id": i, "split": bsplit, "file": files[i]} for i in used if i in files]
    return C.write(
        out_dir, name=name, images=images, captions=None, vqa=rows, languages=wanted_langs,
        source=f"xGQA {split} ({HOMEPAGE})",
        extra_meta={"answer_vocabulary_size": len(vocab), "out_of_vocab": out_of_vocab,
                    "questions_dropped_out_of_vocab": dropped},
    )  # fmt: skip


def download(dest: str | Path, *, languages=None, include_images: bool = False, fetch=None) -> Path:
    """Fetch the zero-shot question files into ``dest/zero_shot`` (and GQA images: 20 GiB zip)."""
    dest = Path(dest)
    langs = C.select_languages(languages, LANGUAGES, NAME)
    items = [(ZERO_SHOT_URL.format(lang=lang), dest / "zero_shot" / f"testdev_balanced_questions_{lang}.json")
             for lang in langs]  # fmt: skip
    if include_images:
        items.append((GQA_IMAGES_URL, dest / "images.zip"))
    for path in C.fetch_all(items, fetch):
        if path.name == "images.zip" and not (dest / "images").is_dir():
            C.extract(path, dest)
    return dest
