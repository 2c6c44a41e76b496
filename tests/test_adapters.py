"""Dataset adapters on tiny fixtures written in each release's published layout.

Fixtures (tests/fixtures/):
  xm3600/     captions.jsonl + images/<key>.jpg                 (Crossmodal-3600 release)
  multi30k/   task1/raw/<split>.<lang>.gz + task1/image_splits/ (the repository's data/ folder)
  xflickrco/  annotations/<lang>/test.jsonl                     (IGLUE datasets/xFlickrCO)
  coco35l/    coco_mt_dev.jsonl.bz2, coco_mt_train.jsonl         (COCO-35L release)
  xgqa/       annotations/{zero_shot,few_shot}/...              (IGLUE datasets/xGQA)
  maxm/       maxm_v1_release/*.json                            (MaXM v1 zip)
  flickr30k/, coco/, gqa/: the image folders those releases point to.
No test touches the network: download() is exercised with a fake fetcher.
"""

import io
import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from mvlm_distill.data import adapters
from mvlm_distill.data.adapters import _common, coco35l, maxm, multi30k, xflickrco, xgqa, xm3600
from mvlm_distill.data.formats import BenchmarkError, read_benchmark

FIX = Path(__file__).parent / "fixtures"


def read_back(out):
    """Read a prepared benchmark back through the format's validation (images decoded too)."""
    return read_benchmark(out, check_images=True)


def prepare_vqa(module, source, out, **kwargs):
    """prepare() + read-back for a VQA-only benchmark (no captions)."""
    try:
        meta = module.prepare(source, out, **kwargs)
        return meta, read_back(out)
    except BenchmarkError as err:
        if "has no captions" in str(err):
            pytest.xfail(f"formats.py does not yet accept VQA-only benchmarks: {err}")
        raise


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_adapter():
    assert set(adapters.ADAPTERS) == {"xm3600", "multi30k", "xflickrco", "coco35l", "xgqa", "maxm"}
    for name, adapter in adapters.ADAPTERS.items():
        assert adapter.name == name
        assert callable(adapter.prepare) and callable(adapter.download)
        assert adapter.languages and adapter.homepage.startswith("https://")
    assert adapters.ADAPTERS["xgqa"].kind == "vqa" and adapters.ADAPTERS["coco35l"].kind == "corpus"
    with pytest.raises(ValueError, match="allowed values are: coco35l, maxm, multi30k"):
        adapters.get_adapter("flickr8k")


# --------------------------------------------------------------------------- XM3600


def test_xm3600_all_languages(tmp_path):
    meta = xm3600.prepare(FIX / "xm3600", tmp_path / "b")
    bench = read_back(tmp_path / "b")
    assert meta["name"] == "xm3600" and meta["splits"] == ["test"]
    assert meta["languages"] == ["ar", "de", "en", "fil", "ja", "quz"]  # XM3600 order, present ones only
    assert len(bench.images) == 4 and set(bench.images["split"]) == {"test"}
    caps = bench.captions
    per = Counter(zip(caps["image_id"], caps["language"]))
    assert per[("000411001ff7dd4f", "en")] == 3  # several captions per image and language
    assert per[("00109d2e7d6e5a41", "ja")] == 3
    assert ("0013ea2087020901", "de") not in per  # an image without some languages
    assert (caps["parallel_id"] == "").all()  # independent captions: no translations
    assert caps["caption_id"].is_unique and len(caps) == 32
    assert "A red cat on a rug." in set(caps["text"])
    assert bench.image_path("0005c2ab1bd46e0b").name == "0005c2ab1bd46e0b.jpg"


def test_xm3600_language_subset_codes_and_errors(tmp_path):
    meta = xm3600.prepare(FIX / "xm3600", tmp_path / "b", languages=["en", "jp"], max_images=2)
    bench = read_back(tmp_path / "b")
    assert meta["languages"] == ["en", "ja"]
    assert list(bench.images["image_id"]) == ["000411001ff7dd4f", "0005c2ab1bd46e0b"]
    with pytest.raises(ValueError) as info:
        xm3600.prepare(FIX / "xm3600", tmp_path / "c", languages=["en", "gsw"])
    message = str(info.value)
    assert "'xm3600'" in message and "'gsw'" in message and "ar, bn, cs" in message and "quz" in message
    with pytest.raises(_common.AdapterError, match="nothing to write"):  # offered, but not in this copy
        xm3600.prepare(FIX / "xm3600", tmp_path / "d", languages=["sw"])


def test_xm3600_missing_images(tmp_path):
    source = tmp_path / "release"
    shutil.copytree(FIX / "xm3600", source)
    (source / "images" / "00109d2e7d6e5a41.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 4 images not found.*00109d2e7d6e5a41\.jpg"):
        xm3600.prepare(source, tmp_path / "b")
    xm3600.prepare(source, tmp_path / "b", missing_images="skip")
    bench = read_back(tmp_path / "b")
    assert "00109d2e7d6e5a41" not in set(bench.images["image_id"]) | set(bench.captions["image_id"])


def test_symlinked_images(tmp_path):
    xm3600.prepare(FIX / "xm3600", tmp_path / "b", link="symlink", languages=["en"])
    bench = read_back(tmp_path / "b")
    assert bench.image_path("000411001ff7dd4f").is_symlink()


# --------------------------------------------------------------------------- Multi30K


def test_multi30k_parallel_lines(tmp_path):
    meta = multi30k.prepare(FIX / "multi30k", tmp_path / "b", images_dir=FIX / "flickr30k")
    bench = read_back(tmp_path / "b")
    assert meta["languages"] == ["en", "de", "fr", "cs"] and meta["splits"] == ["test"]
    assert list(bench.images["image_id"]) == ["1007129816", "1009434119", "101362133"]
    caps = bench.captions
    assert len(caps) == 12
    for _, group in caps.groupby("parallel_id"):  # one line = one image, its four translations
        assert sorted(group["language"]) == ["cs", "de", "en", "fr"] and group["image_id"].nunique() == 1
    line1 = caps[caps["parallel_id"] == "test_2016_flickr_00001"].set_index("language")["text"]
    assert line1["en"].startswith("A man with pierced ears") and line1["de"].startswith("Ein Mann")


def test_multi30k_mscoco_split_and_language_errors(tmp_path):
    meta = multi30k.prepare(FIX / "multi30k" / "task1", tmp_path / "b", split="test_2017_mscoco",
                            images_dir=FIX / "coco")  # fmt: skip
    bench = read_back(tmp_path / "b")
    assert meta["languages"] == ["en", "de", "fr"]
    assert set(bench.images["image_id"]) == {"COCO_train2014_000000391895", "COCO_val2014_000000571641"}
    with pytest.raises(ValueError, match=r"multi30k \(split test_2017_mscoco\).*'cs'.*allowed values are: de, en, fr"):
        multi30k.prepare(FIX / "multi30k", tmp_path / "c", split="test_2017_mscoco", languages=["cs"],
                         images_dir=FIX / "coco")  # fmt: skip
    with pytest.raises(ValueError, match="unknown split 'test'"):
        multi30k.prepare(FIX / "multi30k", tmp_path / "c", split="test")


def test_multi30k_rejects_misaligned_files(tmp_path):
    source = tmp_path / "data"
    shutil.copytree(FIX / "multi30k", source)
    import gzip

    with gzip.open(source / "task1" / "raw" / "test_2016_flickr.fr.gz", "wt", encoding="utf-8") as f:
        f.write("Une seule ligne.\n")
    with pytest.raises(_common.AdapterError, match="has 1 lines but test_2016_flickr.txt lists 3"):
        multi30k.prepare(source, tmp_path / "b", images_dir=FIX / "flickr30k")
    multi30k.prepare(source, tmp_path / "b", images_dir=FIX / "flickr30k", languages=["en", "de"])
    assert read_back(tmp_path / "b").meta["languages"] == ["en", "de"]


# --------------------------------------------------------------------------- xFlickr&CO


def test_xflickrco_flickr_and_coco_images(tmp_path):
    meta = xflickrco.prepare(FIX / "xflickrco", tmp_path / "b", images_dir=[FIX / "flickr30k", FIX / "coco"])
    bench = read_back(tmp_path / "b")
    assert meta["languages"] == ["en", "de", "ja"]
    ids = set(bench.images["image_id"])
    assert ids == {"1007129816", "1009434119", "COCO_val2014_000000571641", "COCO_val2014_000000163348"}
    caps = bench.captions
    assert (caps["parallel_id"] == caps["image_id"]).all()
    assert set(caps[caps["image_id"] == "1009434119"]["language"]) == {"en", "de"}  # ja lacks this image
    assert len(caps) == 11


def test_xflickrco_codes_and_errors(tmp_path):
    meta = xflickrco.prepare(FIX / "xflickrco", tmp_path / "b", languages=["jp"], parallel=None,
                             images_dir=[FIX / "flickr30k", FIX / "coco"])  # fmt: skip
    bench = read_back(tmp_path / "b")
    assert meta["languages"] == ["ja"] and (bench.captions["parallel_id"] == "").all()
    with pytest.raises(ValueError, match=r"'xflickrco'.*'fr'.*allowed values are: de, en, ja"):
        xflickrco.prepare(FIX / "xflickrco", tmp_path / "c", languages=["fr"])
    with pytest.raises(FileNotFoundError, match="COCO_val2014_000000571641.jpg"):  # COCO folder not given
        xflickrco.prepare(FIX / "xflickrco", tmp_path / "d", images_dir=FIX / "flickr30k")


# --------------------------------------------------------------------------- COCO-35L


def test_coco35l_parallel_translations(tmp_path):
    meta = coco35l.prepare(FIX / "coco35l", tmp_path / "b", split="dev", images_dir=FIX / "coco")
    bench = read_back(tmp_path / "b")
    assert meta["splits"] == ["val"] and set(meta["languages"]) == {"en", "de", "ja", "fil", "he"}
    assert set(bench.images["image_id"]) == {"571641", "163348", "522418"}  # val2014 and train2014 images
    caps = bench.captions
    group = caps[caps["parallel_id"] == "571641_1"].set_index("language")["text"]
    assert sorted(group.index) == ["de", "en", "fil", "he", "ja"]
    assert group["en"] == "a desktop computer with a keyboard ." and group["de"].startswith("ein desktop")
    assert (caps.groupby(["parallel_id", "language"]).size() == 1).all()  # English written once
    assert "fil" not in set(caps[caps["parallel_id"] == "163348_0"]["language"])  # a missing translation


def test_coco35l_options(tmp_path):
    coco35l.prepare(FIX / "coco35l", tmp_path / "b", split="dev", images_dir=FIX / "coco",
                    languages=["eng_Latn", "heb_Hebr"], max_captions_per_image=1, max_images=2)  # fmt: skip
    bench = read_back(tmp_path / "b")
    assert bench.meta["languages"] == ["en", "he"]
    assert set(bench.captions["parallel_id"]) == {"571641_0", "163348_0"}
    meta = coco35l.prepare(FIX / "coco35l", tmp_path / "c", images_dir=FIX / "coco")  # plain .jsonl, train
    assert meta["splits"] == ["train"] and meta["languages"] == ["de", "en", "ja"]
    with pytest.raises(ValueError, match=r"'coco35l'.*'quz'"):
        coco35l.prepare(FIX / "coco35l", tmp_path / "d", languages=["quz"])


# --------------------------------------------------------------------------- xGQA


def test_xgqa_questions_and_candidates(tmp_path):
    meta, bench = prepare_vqa(xgqa, FIX / "xgqa", tmp_path / "b", images_dir=FIX / "gqa" / "images")
    assert meta["languages"] == ["en", "de", "zh"] and meta["splits"] == ["test"]
    vqa = bench.vqa
    assert len(vqa) == 18 and vqa["question_id"].is_unique
    for _, group in vqa.groupby("parallel_id"):  # same question in three languages, English answer
        assert sorted(group["language"]) == ["de", "en", "zh"] and group["answer"].nunique() == 1
    row = vqa[vqa["question_id"] == "20968379_zh"].iloc[0]
    assert row["question"] == "天空是蓝色还是白色？" and row["answer"] == "blue"
    assert row["candidates"] == ["blue", "yes", "no", "umbrella"]  # by frequency, ties alphabetical
    assert meta["answer_vocabulary_size"] == 4


def test_xgqa_vocabulary_options(tmp_path):
    meta, bench = prepare_vqa(xgqa, FIX / "xgqa", tmp_path / "b", images_dir=FIX / "gqa" / "images",
                              candidates_top_n=2, languages=["zho_Hans", "en"])  # fmt: skip
    assert meta["languages"] == ["zh", "en"] and meta["questions_dropped_out_of_vocab"] == 4
    assert set(bench.vqa["answer"]) == {"blue", "yes"}
    meta, bench = prepare_vqa(xgqa, FIX / "xgqa", tmp_path / "c", images_dir=FIX / "gqa" / "images",
                              candidates_top_n=2, out_of_vocab="replace", languages=["en"])  # fmt: skip
    assert len(bench.vqa) == 6
    assert all(a in c and len(c) == 2 for a, c in zip(bench.vqa["answer"], bench.vqa["candidates"]))
    vocab = tmp_path / "answers.json"
    vocab.write_text(json.dumps(["yes", "no", "blue", "umbrella", "red"]))
    meta, bench = prepare_vqa(xgqa, FIX / "xgqa", tmp_path / "d", images_dir=FIX / "gqa" / "images",
                              answer_vocab=vocab, candidates_top_n=None, languages=["de"], max_images=1)  # fmt: skip
    assert set(bench.vqa["image_id"]) == {"n288870"} and bench.vqa["candidates"][0][-1] == "red"


def test_xgqa_few_shot_split_and_errors(tmp_path):
    meta, bench = prepare_vqa(xgqa, FIX / "xgqa", tmp_path / "b", split="dev", images_dir=FIX / "gqa" / "images")
    assert meta["languages"] == ["de"] and meta["splits"] == ["val"] and len(bench.vqa) == 2
    with pytest.raises(ValueError, match=r"'xgqa'.*'fr'.*allowed values are: de, en, zh"):
        xgqa.prepare(FIX / "xgqa", tmp_path / "c", languages=["fr"])
    with pytest.raises(_common.AdapterError, match="few_shot/<lang>/train_5.json"):
        xgqa.prepare(FIX / "xgqa", tmp_path / "c", split="train_5")


# --------------------------------------------------------------------------- MaXM


def test_maxm_hebrew_code_and_native_answers(tmp_path):
    meta, bench = prepare_vqa(maxm, FIX / "maxm", tmp_path / "b", images_dir=FIX / "xm3600" / "images")
    assert meta["languages"] == ["en", "he", "zh"]  # the release writes Hebrew as "iw"
    vqa = bench.vqa.set_index("question_id")
    assert vqa.loc["100002_en", "answer"] == "rug"  # majority of processed_answers
    assert vqa.loc["100004_en", "answer"] == "sea"
    assert vqa.loc["200003_he", "answer"] == "אדום"
    assert set(vqa.loc["200003_he", "candidates"]) == {"ירוק", "חתול", "אדום"}  # per-language vocabulary
    assert (bench.vqa["parallel_id"] == "").all()
    assert meta["answer_vocabulary_size"] == {"en": 4, "he": 3, "zh": 1}


def test_maxm_language_request(tmp_path):
    meta, bench = prepare_vqa(maxm, FIX / "maxm", tmp_path / "b", languages=["iw"],
                              images_dir=FIX / "xm3600" / "images")  # fmt: skip
    assert meta["languages"] == ["he"] and len(bench.images) == 2
    with pytest.raises(ValueError, match=r"'maxm'.*'ja'.*allowed values are: en, he, zh"):
        maxm.prepare(FIX / "maxm", tmp_path / "c", languages=["ja"])


# --------------------------------------------------------------------------- download (no network)


class FakeFetch:
    """Stands in for the network: records URLs and serves fixture bytes."""

    def __init__(self, payloads=None):
        self.urls, self.payloads = [], payloads or {}

    def __call__(self, url, dest):
        self.urls.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        name = url.rsplit("/", 1)[-1]
        dest.write_bytes(self.payloads.get(name, b"{}"))


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, path in files.items():
            zf.write(path, name)
    return buffer.getvalue()


def test_download_then_prepare_xm3600(tmp_path):
    fetch = FakeFetch({"captions.zip": _zip({"captions.jsonl": FIX / "xm3600" / "captions.jsonl"})})
    source = xm3600.download(tmp_path / "xm3600", include_images=False, fetch=fetch)
    assert fetch.urls == [xm3600.CAPTIONS_URL]
    xm3600.prepare(source, tmp_path / "b", images_dir=FIX / "xm3600" / "images", languages=["quz"])
    assert read_back(tmp_path / "b").meta["languages"] == ["quz"]


def test_download_urls(tmp_path):
    fetch = FakeFetch()
    multi30k.download(tmp_path / "m", splits=["test_2017_mscoco"], fetch=fetch)
    assert fetch.urls[0].endswith("data/task1/image_splits/test_2017_mscoco.txt")
    assert sorted(u.rsplit("/", 1)[-1] for u in fetch.urls[1:]) == [
        "test_2017_mscoco.de.gz", "test_2017_mscoco.en.gz", "test_2017_mscoco.fr.gz"]  # fmt: skip
    assert (tmp_path / "m" / "data" / "task1" / "raw" / "test_2017_mscoco.de.gz").exists()

    fetch = FakeFetch()
    xgqa.download(tmp_path / "x", languages=["de", "bn"], fetch=fetch)
    assert sorted(u.rsplit("/", 1)[-1] for u in fetch.urls) == [
        "testdev_balanced_questions_bn.json", "testdev_balanced_questions_de.json"]  # fmt: skip
    assert (tmp_path / "x" / "zero_shot" / "testdev_balanced_questions_de.json").exists()

    fetch = FakeFetch()
    xflickrco.download(tmp_path / "f", languages=["ja"], fetch=fetch)
    assert fetch.urls == [xflickrco.ANNOTATION_URL.format(lang="ja", split="test")]

    fetch = FakeFetch({"coco_mt_dev.jsonl.bz2": (FIX / "coco35l" / "coco_mt_dev.jsonl.bz2").read_bytes()})
    source = coco35l.download(tmp_path / "c", splits=["dev"], fetch=fetch)
    assert fetch.urls == [coco35l.CAPTIONS_URL.format(split="dev")]
    coco35l.prepare(source, tmp_path / "cb", split="dev", images_dir=FIX / "coco", languages=["he"])
    assert read_back(tmp_path / "cb").meta["languages"] == ["he"]

    release = {f"maxm_v1_release/{p.name}": p for p in (FIX / "maxm" / "maxm_v1_release").glob("*.json")}
    fetch = FakeFetch({"maxm_v1_release.zip": _zip(release)})
    maxm.download(tmp_path / "mx", include_images=False, fetch=fetch)
    assert fetch.urls == [maxm.RELEASE_URL]
    assert (tmp_path / "mx" / "maxm_v1_release" / "maxm_v1_iw.json").exists()
