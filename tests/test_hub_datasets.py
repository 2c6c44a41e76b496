"""``source: hf`` benchmarks: Parquet fixtures laid out like the Hub copies, read offline with ``datasets``.

Each fixture holds the same samples as the official-release fixture (tests/fixtures/), written the
way the Hub repository stores them (dataset card with ``configs``, ``data/<split>-00000-of-00001.parquet``,
one split per language, images embedded as ``{bytes, path}``), inside a Hugging Face cache at a
pinned revision. The prepared benchmark must equal the official adapter's output on those samples,
except where the Hub copy itself differs (see ``mvlm_distill.data.adapters.hub``).
"""

import io
import json
import os
from pathlib import Path

import datasets
import pytest

from mvlm_distill.data.adapters import hub, maxm, xflickrco, xgqa, xm3600
from mvlm_distill.data.formats import read_benchmark
from mvlm_distill.data.prepare import prepare_benchmark

from tiny_hub import hub_snapshot

FIX = Path(__file__).parent / "fixtures"
IMAGE = {"bytes": datasets.Value("binary"), "path": datasets.Value("null")}


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline."""
    home = tmp_path / "hf_home"
    for var, value in (("HF_HOME", home), ("HF_HUB_CACHE", home / "hub"), ("HF_DATASETS_CACHE", home / "datasets"),
                       ("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1")):
        monkeypatch.setenv(var, str(value))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    return home


def _card_features(features: datasets.Features) -> list:
    """Features in the dataset cards' YAML form (``sequence:`` for lists, as the cards write them)."""
    def old_form(item):
        if isinstance(item, dict):
            item = {("sequence" if k == "list" else k): old_form(v) for k, v in item.items()}
        elif isinstance(item, list):
            item = [old_form(v) for v in item]
        return item
    return old_form(features._to_yaml_list())


def write_hub_dataset(hf_home: Path, kind: str, splits: dict[str, dict], features: datasets.Features) -> dict:
    """The Hub copy of ``kind`` (HUB_COPIES) with ``splits`` ({split: columns}) in the cache; its hf block."""
    import yaml

    copy = hub.HUB_COPIES[kind]
    files, split_info, data_files = {}, [], []
    for name, columns in splits.items():
        buf = io.BytesIO()
        datasets.Dataset.from_dict(columns, features=features).to_parquet(buf)
        files[f"data/{name}-00000-of-00001.parquet"] = buf.getvalue()
        split_info.append({"name": name, "num_bytes": len(files[f"data/{name}-00000-of-00001.parquet"]),
                           "num_examples": len(next(iter(columns.values())))})
        data_files.append({"split": name, "path": f"data/{name}-*"})
    card = {"dataset_info": {"features": _card_features(features), "splits": split_info},
            "configs": [{"config_name": "default", "data_files": data_files}]}
    files["README.md"] = ("---\n" + yaml.safe_dump(card, allow_unicode=True, sort_keys=False) + "---\n").encode()
    hub_snapshot(hf_home, copy.dataset, files, copy.revision, repo_type="dataset")
    return {"dataset": copy.dataset, "revision": copy.revision}


def _image(path: Path) -> dict:
    return {"bytes": path.read_bytes(), "path": None}


def _tables(out):
    bench = read_benchmark(out, check_images=True)
    return bench, bench.meta


def _same_rows(a, b, key):
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert a.to_dict("records") == b.to_dict("records")


def _same_image_bytes(bench_a, bench_b):
    for image_id in bench_a.images["image_id"]:
        assert bench_a.image_path(image_id).read_bytes() == bench_b.image_path(image_id).read_bytes(), image_id


# --------------------------------------------------------------------------- XM3600


def test_xm3600_hub_copy_equals_release(hf_home, tmp_path):
    records = [json.loads(line) for line in (FIX / "xm3600" / "captions.jsonl").read_text().splitlines()]
    languages = sorted({k for r in records for k in r if "/" not in k})
    splits = {}
    for lang in languages:  # every split: the images that have captions in that language
        rows = [r for r in records if lang in r]
        splits[lang] = {
            "image_id": [r["image/key"] for r in rows], "image_locale": [r["image/locale"] for r in rows],
            "captions": [r[lang]["caption"] for r in rows],
            "captions_tokenized": [r[lang]["caption/tokenized"] for r in rows],
            "captions_tokenized_lowercase": [r[lang]["caption/tokenized/lowercase"] for r in rows],
            "image": [_image(FIX / "xm3600" / "images" / f"{r['image/key']}.jpg") for r in rows],
        }
    features = datasets.Features({"image_id": datasets.Value("string"), "image_locale": datasets.Value("string"),
                                  "captions": datasets.Sequence(datasets.Value("string")),
                                  "captions_tokenized": datasets.Sequence(datasets.Value("string")),
                                  "captions_tokenized_lowercase": datasets.Sequence(datasets.Value("string")),
                                  "image": IMAGE})
    hf = write_hub_dataset(hf_home, "xm3600", splits, features)
    xm3600.prepare(FIX / "xm3600", tmp_path / "release")
    meta = prepare_benchmark("xm3600", {"kind": "xm3600", "source": "hf", "hf": hf}, tmp_path / "hub")
    official, official_meta = _tables(tmp_path / "release")
    ours, _ = _tables(tmp_path / "hub")
    assert len(ours.captions) == len(official.captions) == 32
    _same_rows(ours.captions, official.captions, "caption_id")
    _same_rows(ours.images, official.images, "image_id")
    _same_image_bytes(official, ours)
    assert meta["languages"] == official_meta["languages"] == ["ar", "de", "en", "fil", "ja", "quz"]
    assert meta["hub"] == {**hf, "config": "default"} and hf["revision"] in meta["source"]
    # a language subset, requested with another spelling of the code
    meta = prepare_benchmark("xm3600", {"kind": "xm3600", "source": "hf", "hf": hf, "languages": ["jp"]},
                             tmp_path / "ja")
    assert meta["languages"] == ["ja"]


# --------------------------------------------------------------------------- xFlickr&CO


def test_xflickrco_hub_copy_equals_release_but_coco_ids(hf_home, tmp_path):
    image_dirs = [FIX / "flickr30k" / "flickr30k-images", FIX / "coco" / "val2014"]
    splits = {}
    for folder in sorted((FIX / "xflickrco" / "annotations").iterdir()):
        rows = [json.loads(line) for line in (folder / "test.jsonl").read_text().splitlines() if line.strip()]
        splits[folder.name] = {
            "sentences": [r["sentences"][0] for r in rows],  # the Hub holds the one caption as a string
            "id": [str(r["id"]) for r in rows],  # a string for COCO images too (the release: an integer)
            "image": [_image(next(d / r["img_path"] for d in image_dirs if (d / r["img_path"]).exists()))
                      for r in rows],
        }
    features = datasets.Features({"sentences": datasets.Value("string"), "id": datasets.Value("string"),
                                  "image": IMAGE})
    hf = write_hub_dataset(hf_home, "xflickrco", splits, features)
    xflickrco.prepare(FIX / "xflickrco", tmp_path / "release", images_dir=[FIX / "flickr30k", FIX / "coco"])
    meta = prepare_benchmark("xflickrco", {"kind": "xflickrco", "source": "hf", "hf": hf}, tmp_path / "hub")
    official, official_meta = _tables(tmp_path / "release")
    ours, _ = _tables(tmp_path / "hub")
    # the release names COCO images by file stem, the Hub copy by the bare COCO id
    coco = {f"COCO_val2014_{int(i):012d}": i for i in splits["en"]["id"] if len(i) <= 6}
    assert coco == {"COCO_val2014_000000571641": "571641", "COCO_val2014_000000163348": "163348"}
    renamed = official.captions.replace({"image_id": coco, "parallel_id": coco})
    renamed["caption_id"] = [f"{i}_{lang}_0" for i, lang in zip(renamed["image_id"], renamed["language"])]
    assert len(ours.captions) == len(official.captions)
    _same_rows(ours.captions, renamed, "caption_id")
    assert meta["languages"] == official_meta["languages"] and set(meta["languages"]) == {"de", "en", "ja"}
    assert sorted(ours.images["image_id"]) == sorted(official.images["image_id"].replace(coco))


# --------------------------------------------------------------------------- xGQA


def test_xgqa_hub_copy_equals_release_up_to_question_ids(hf_home, tmp_path):
    folder = FIX / "xgqa" / "annotations" / "zero_shot"
    files = {p.name.split("_")[-1].split(".")[0]: json.loads(p.read_text())
             for p in sorted(folder.glob("testdev_balanced_questions_*.json"))}
    order = list(files["en"])  # the Hub rows: the release's questions in file order, the same in every split
    splits = {lang: {"question": [q[i]["question"] for i in order], "answer": [q[i]["answer"] for i in order],
                     "full_answer": [q[i]["fullAnswer"] for i in order],
                     "image_id": [q[i]["imageId"] for i in order],
                     "image": [_image(FIX / "gqa" / "images" / f"{q[i]['imageId']}.jpg") for i in order]}
              for lang, q in files.items()}
    features = datasets.Features({"question": datasets.Value("string"), "answer": datasets.Value("string"),
                                  "full_answer": datasets.Value("string"), "image_id": datasets.Value("string"),
                                  "image": IMAGE})
    hf = write_hub_dataset(hf_home, "xgqa", splits, features)
    xgqa.prepare(FIX / "xgqa", tmp_path / "release", images_dir=FIX / "gqa" / "images")
    meta = prepare_benchmark("xgqa", {"kind": "xgqa", "source": "hf", "hf": hf}, tmp_path / "hub")
    official, official_meta = _tables(tmp_path / "release")
    ours, _ = _tables(tmp_path / "hub")
    # no question ids on the Hub: a question is its row number, the same row in every language
    row_of = {qid: str(n) for n, qid in enumerate(order)}
    renamed = official.vqa.copy()
    renamed["parallel_id"] = renamed["parallel_id"].map(row_of)
    renamed["question_id"] = [f"{row_of[p]}_{lang}" for p, lang in zip(official.vqa["parallel_id"],
                                                                      official.vqa["language"])]
    assert len(ours.vqa) == len(official.vqa) == 18
    _same_rows(ours.vqa, renamed, "question_id")
    assert meta["languages"] == official_meta["languages"] == ["en", "de", "zh"]
    assert meta["answer_vocabulary_size"] == official_meta["answer_vocabulary_size"]
    _same_image_bytes(official, ours)


# --------------------------------------------------------------------------- MaXM


def test_maxm_hub_copy_equals_release(hf_home, tmp_path):
    splits = {}
    for path in sorted((FIX / "maxm" / "maxm_v1_release").glob("*.json")):
        release = json.loads(path.read_text())
        rows = [(entry, qa) for entry in release["annotations"] for qa in entry["qa_pairs"]]
        splits[release["split"]] = {  # the Hub keeps the release's codes: Hebrew is the split "iw"
            "image_id": [e["image_id"] for e, _ in rows], "image_url": [e["image_url"] for e, _ in rows],
            "image": [{"bytes": (FIX / "xm3600" / "images" / f"{e['image_id']}.jpg").read_bytes(), "path": None}
                      for e, _ in rows],
            "image_locale": ["" for _ in rows], "image_captions": [[] for _ in rows],
            "question_id": [qa["question_id"] for _, qa in rows], "question": [qa["question"] for _, qa in rows],
            "answers": [qa["answers"] for _, qa in rows],
            "processed_answers": [qa["processed_answers"] for _, qa in rows],
            "language": [release["split"] for _ in rows], "is_collection": [qa["is_collection"] for _, qa in rows],
            "method": ["" for _ in rows],
        }
    string = datasets.Value("string")
    features = datasets.Features({
        "image_id": string, "image_url": string, "image": {"bytes": datasets.Value("binary"), "path": string},
        "image_locale": string, "image_captions": datasets.Sequence(string), "question_id": string,
        "question": string, "answers": datasets.Sequence(string), "processed_answers": datasets.Sequence(string),
        "language": string, "is_collection": datasets.Value("bool"), "method": string})
    hf = write_hub_dataset(hf_home, "maxm", splits, features)
    maxm.prepare(FIX / "maxm", tmp_path / "release", images_dir=FIX / "xm3600" / "images")
    meta = prepare_benchmark("maxm", {"kind": "maxm", "source": "hf", "hf": hf}, tmp_path / "hub")
    official, official_meta = _tables(tmp_path / "release")
    ours, _ = _tables(tmp_path / "hub")
    assert len(ours.vqa) == len(official.vqa) > 0
    _same_rows(ours.vqa, official.vqa, "question_id")
    assert meta["languages"] == official_meta["languages"] == ["en", "he", "zh"]
    assert meta["answer_vocabulary_size"] == official_meta["answer_vocabulary_size"]


# --------------------------------------------------------------------------- errors


def test_hub_spec_errors(hf_home, tmp_path):
    with pytest.raises(ValueError, match=r"benchmarks.m30k.source: hf is available for maxm, xflickrco, xgqa, xm3600"):
        prepare_benchmark("m30k", {"kind": "multi30k", "source": "hf", "hf": {}}, tmp_path / "a")
    with pytest.raises(ValueError, match=r"benchmarks.xm.hf: .*pinned revision.*floschne/xm3600"):
        prepare_benchmark("xm", {"kind": "xm3600", "source": "hf", "hf": {"dataset": "floschne/xm3600"}},
                          tmp_path / "a")
    with pytest.raises(ValueError, match=r"benchmarks.xm.hf.revision: 'main' is not a 40-digit commit hash"):
        prepare_benchmark("xm", {"kind": "xm3600", "source": "hf",
                                 "hf": {"dataset": "floschne/xm3600", "revision": "main"}}, tmp_path / "a")
    with pytest.raises(FileNotFoundError, match=r"floschne/xm3600 at revision 8d3e5665.* not in the Hugging Face cache"):
        copy = hub.HUB_COPIES["xm3600"]
        prepare_benchmark("xm", {"kind": "xm3600", "source": "hf",
                                 "hf": {"dataset": copy.dataset, "revision": copy.revision}}, tmp_path / "a")
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_hub_copy_with_other_columns_is_refused(hf_home, tmp_path):
    features = datasets.Features({"image_id": datasets.Value("string"), "text": datasets.Value("string")})
    hf = write_hub_dataset(hf_home, "xm3600", {"en": {"image_id": ["a"], "text": ["x"]}}, features)
    with pytest.raises(Exception, match=r"split 'en': no column 'image_locale'"):
        prepare_benchmark("xm", {"kind": "xm3600", "source": "hf", "hf": hf}, tmp_path / "a")
