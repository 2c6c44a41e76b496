"""Cross-lingual consistency and language/meaning clustering on constructed embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from mvlm_distill.definitions import CONSISTENCY_METRICS, IMAGE_CONSISTENCY_METRICS
from mvlm_distill.evaluate.clustering import CLUSTERING_METRICS, clustering, clustering_references
from mvlm_distill.evaluate.consistency import consistency, image_consistency


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def gallery(n_img=30, d=16, seed=0):
    rng = np.random.default_rng(seed)
    images = unit(rng.standard_normal((n_img, d)))
    caption_image = np.repeat(np.arange(n_img), 2)
    captions = unit(images[caption_image] + 0.5 * rng.standard_normal((2 * n_img, d)))
    return images, captions, caption_image, rng


def test_language_agnostic_encoder_on_exact_translations_scores_one():
    images, en, caption_image, _ = gallery()
    out = consistency(en.copy(), en, images, caption_image)
    assert set(out) == set(CONSISTENCY_METRICS)
    assert out == pytest.approx({m: 1.0 for m in CONSISTENCY_METRICS})


def test_perfect_encoder_reaches_one_when_captions_repeat():
    """Two images may share a caption (as 19% of synthetic test images do): the repeated text is a hit."""
    rng = np.random.default_rng(3)
    n, d = 1200, 32
    meaning = np.arange(n)
    meaning[900:] = meaning[100:400]  # the same caption for 300 other images, far apart
    vectors = unit(rng.standard_normal((n, d)))[meaning]  # a perfect encoder: one point per meaning
    images = unit(rng.standard_normal((600, d)))
    texts_en = [f"caption {m}" for m in meaning]
    texts_de = [f"Bildunterschrift {m}" for m in meaning]
    out = consistency(vectors, vectors.copy(), images, texts_lang=texts_de, texts_en=texts_en)
    assert out == pytest.approx({m: 1.0 for m in CONSISTENCY_METRICS})
    # without the texts every repeated caption is a tie, counted as a miss
    blind = consistency(vectors, vectors.copy(), images)
    assert blind["bitext_to_en"] == pytest.approx(1 - 600 / n)
    with pytest.raises(ValueError, match="texts"):
        consistency(vectors, vectors, images, texts_en=texts_en[:-1])


def test_language_shift_lowers_every_metric():
    images, en, caption_image, rng = gallery()
    lang = unit(en + 1.5 * rng.standard_normal(en.shape))
    out = consistency(lang, en, images, caption_image)
    assert out["cosine_to_en"] < 0.8
    assert 0.0 <= out["top10_overlap"] < 0.9
    assert out["bitext_to_en"] < 1.0 and out["bitext_from_en"] < 1.0


def test_hand_computed_consistency():
    en = np.array([[1.0, 0.0], [0.0, 1.0]])
    lang = np.array([[0.0, 1.0], [0.0, 1.0]])  # caption 0 mistranslated onto caption 1
    images = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    out = consistency(lang, en, images, k=1)
    assert out["cosine_to_en"] == pytest.approx(0.5)
    assert out["top10_overlap"] == pytest.approx(0.5)  # top-1: caption 0 differs, caption 1 agrees
    # lang->en: row 0 ties (0 vs 1) -> miss; row 1 correct. en->lang: row 0 scores 0, 0 -> tie miss;
    # row 1 scores 1, 1 -> tie miss
    assert out["bitext_to_en"] == pytest.approx(0.5)
    assert out["bitext_from_en"] == pytest.approx(0.0)
    # k larger than the gallery is capped: everything overlaps
    assert consistency(lang, en, images, k=10)["top10_overlap"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        consistency(lang, en[:1], images)
    assert np.isnan(consistency(lang[:0], en[:0], images)["cosine_to_en"])


def _pooled(by: str, n_img=8, n_lang=4, d=32, seed=0):
    rng = np.random.default_rng(seed)
    meaning = 3 * rng.standard_normal((n_img, d))
    language = 3 * rng.standard_normal((n_lang, d))
    img = np.repeat(np.arange(n_img), n_lang)
    lang = np.tile(np.arange(n_lang), n_img)
    centre = meaning[img] if by == "meaning" else language[lang]
    return centre + 0.3 * rng.standard_normal((n_img * n_lang, d)), img, [f"l{k}" for k in lang]


def test_clustering_by_meaning():
    emb, img, lang = _pooled("meaning")
    out = clustering(emb, img, lang, seed=0)
    assert set(out) == set(CLUSTERING_METRICS)
    assert out["nmi_image"] > 0.95
    assert out["nmi_language"] < 0.2
    assert out["silhouette_image"] > 0.5


def test_clustering_by_language():
    emb, img, lang = _pooled("language")
    out = clustering(emb, img, lang, seed=0)
    assert out["nmi_language"] > 0.8
    assert out["nmi_image"] < 0.5
    assert out["silhouette_image"] < 0.0


def test_clustering_is_seeded_and_handles_degenerate_cases():
    emb, img, lang = _pooled("meaning")
    assert clustering(emb, img, lang, seed=1) == clustering(emb, img, lang, seed=1)
    one_each = clustering(emb[:4], [0, 1, 2, 3], ["a"] * 4)
    assert np.isnan(one_each["silhouette_image"])
    with pytest.raises(ValueError):
        clustering(emb, img[:-1], lang)


def test_chance_and_perfect_references_with_many_clusters():
    """With k = 120 clusters on 1,080 captions NMI is far from 0 at chance and below 1 for a perfect
    language split; AMI is 0 at chance and the references say what each metric can reach."""
    rng = np.random.default_rng(0)
    n_img, n_lang = 120, 9
    img = np.repeat(np.arange(n_img), n_lang)
    lang = np.array([f"l{k}" for k in np.tile(np.arange(n_lang), n_img)])
    random_labels = rng.integers(0, n_img, img.size)
    refs = clustering_references(img, lang, random_labels, seed=0)
    assert set(refs) == set(CLUSTERING_METRICS) and all(np.isnan(refs["silhouette_image"]))
    random_nmi, perfect_nmi = refs["nmi_image"]
    assert random_nmi > 0.3 and perfect_nmi == pytest.approx(1.0)
    assert abs(refs["ami_image"][0]) < 0.02 and refs["ami_image"][1] == pytest.approx(1.0)
    assert abs(refs["ami_language"][0]) < 0.02
    # one cluster per language plus singletons: the closest 120 clusters come to the languages
    assert 0.85 < refs["nmi_language"][1] < 1 and 0.85 < refs["ami_language"][1] < 1
    # the perfect language clustering really is pure in language and has as many clusters
    meaning = 3 * rng.standard_normal((n_img, 16))
    out, labels = clustering(meaning[img] + 0.1 * rng.standard_normal((img.size, 16)), img, lang, seed=0,
                             n_init=1, return_labels=True)
    # each cluster holds one caption per language: more even than chance, so AMI goes below 0
    assert out["ami_image"] > 0.95 and out["ami_language"] < 0.0
    assert out["nmi_language"] < clustering_references(img, lang, labels)["nmi_language"][0]


def test_image_level_consistency_without_translations():
    """Independent captions of the same image (XM3600): per-image centroids, language against English."""
    rng = np.random.default_rng(4)
    n_img, d = 40, 16
    images = unit(rng.standard_normal((n_img, d)))
    en_image = np.repeat(np.arange(n_img), 2)          # two English captions per image
    de_image = np.r_[np.arange(n_img), np.arange(0, n_img, 2)]  # one or two German captions, other order
    agnostic = lambda img: images[img] + 0.01 * rng.standard_normal((img.size, d))  # noqa: E731
    out = image_consistency(agnostic(de_image), de_image, [f"de{i}" for i in range(de_image.size)],
                            agnostic(en_image), en_image, [f"en{i}" for i in range(en_image.size)], images)
    assert list(out) == list(IMAGE_CONSISTENCY_METRICS)
    assert out["image_cosine_to_en"] > 0.99 and out["image_bitext_to_en"] == 1.0 == out["image_bitext_from_en"]
    shifted = image_consistency(unit(agnostic(de_image) + 2 * rng.standard_normal((de_image.size, d))), de_image,
                                [f"de{i}" for i in range(de_image.size)], agnostic(en_image), en_image,
                                [f"en{i}" for i in range(en_image.size)], images)
    assert shifted["image_cosine_to_en"] < out["image_cosine_to_en"] and shifted["image_bitext_to_en"] < 1.0
    # only images captioned in both languages count; none shared: NaN
    assert np.isnan(image_consistency(images[:2], np.array([0, 1]), ["a", "b"], images[2:4], np.array([2, 3]),
                                      ["c", "d"], images)["image_cosine_to_en"])


@pytest.mark.parametrize("groups", ["images", "random", "with singletons"])
def test_cosine_silhouette_equals_sklearn(groups):
    from sklearn.metrics import silhouette_score

    from mvlm_distill.evaluate.clustering import cosine_silhouette

    rng = np.random.default_rng(4)
    centres = rng.standard_normal((40, 24))
    labels = rng.integers(0, 40, 900)
    x = centres[labels] + 0.7 * rng.standard_normal((900, 24))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if groups == "random":
        labels = rng.integers(0, 60, 900)
    elif groups == "with singletons":  # rows alone in their group score 0, as in sklearn
        labels = labels.copy()
        labels[:30] = 100 + np.arange(30)
    names = np.array([f"img{g}" for g in labels])
    expected = silhouette_score(x, names, metric="cosine")
    assert cosine_silhouette(x, names) == pytest.approx(expected, rel=0, abs=1e-12)
