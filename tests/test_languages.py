"""Language-code normalisation and validation (mvlm_distill.data.languages)."""

import pytest

from mvlm_distill.data.languages import (
    COCO35L_LANGUAGES,
    DATASET_LANGUAGES,
    MAXM_LANGUAGES,
    XM3600_LANGUAGES,
    check_languages,
    dataset_languages,
    normalize_language,
    normalize_languages,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("jp", "ja"), ("JA", "ja"), ("iw", "he"), ("in", "id"), ("cz", "cs"),
        ("zho_Hans", "zh"), ("zho_Hant", "zh"), ("eng_Latn", "en"), ("deu_Latn", "de"), ("arb_Arab", "ar"),
        ("pes_Arab", "fa"), ("swh_Latn", "sw"), ("tgl_Latn", "fil"), ("mri_Latn", "mi"), ("nob_Latn", "no"),
        ("zh-CN", "zh"), ("zh_TW", "zh"), ("pt-BR", "pt"), ("en-US", "en"), ("sr-Latn-RS", "sr"),
        ("eng", "en"), ("ger", "de"), ("fre", "fr"), ("ces", "cs"), ("jpn", "ja"), ("heb", "he"),
        ("fil", "fil"), ("quz", "quz"), ("mi", "mi"), ("tl", "fil"), ("nb", "no"),
        ("English", "en"), ("cusco_quechua", "quz"), (" de ", "de"),
    ],
)  # fmt: skip
def test_normalize_language(raw, expected):
    assert normalize_language(raw) == expected


def test_dataset_quirks_and_unknown_codes():
    assert normalize_language("iw", "maxm") == "he"
    assert normalize_language("xyz") == "xyz"  # a well-formed ISO 639-3 code without a 639-1 one is kept
    with pytest.raises(ValueError, match=r"'not a code!'.*dataset 'xgqa'"):
        normalize_language("not a code!", "xgqa")
    with pytest.raises(ValueError, match="Empty"):
        normalize_language("  ")


def test_dataset_language_lists():
    assert len(XM3600_LANGUAGES) == 36 == len(set(XM3600_LANGUAGES))
    assert set(COCO35L_LANGUAGES) == set(XM3600_LANGUAGES) - {"quz"}
    assert "he" in MAXM_LANGUAGES and "iw" not in MAXM_LANGUAGES
    for codes in DATASET_LANGUAGES.values():  # every list is already in the project's scheme
        assert normalize_languages(codes) == list(codes)
    assert dataset_languages("XM3600") == XM3600_LANGUAGES
    with pytest.raises(ValueError, match="known datasets are: coco35l, maxm"):
        dataset_languages("flores")


def test_check_languages_normalises_and_deduplicates():
    assert check_languages(None, ["en", "de"], "benchmarks.x.languages") == ["en", "de"]
    assert check_languages(["jp", "ja", "eng_Latn"], XM3600_LANGUAGES, "x") == ["ja", "en"]
    assert check_languages("iw", MAXM_LANGUAGES, "x") == ["he"]


def test_check_languages_error_names_where_and_allowed_values():
    with pytest.raises(ValueError) as info:
        check_languages(["en", "fr", "kli"], ["en", "de", "cs"], "benchmarks.multi30k.languages")
    message = str(info.value)
    assert message.startswith("benchmarks.multi30k.languages:")
    assert "'fr'" in message and "'kli'" in message and "'en'" not in message
    assert message.endswith("allowed values are: cs, de, en.")
    assert message.count(". ") == 0  # one sentence
    with pytest.raises(ValueError, match=r"'zho_Hans \(= zh\)'"):
        check_languages(["zho_Hans"], ["en"], "x")
    with pytest.raises(ValueError, match="no language requested"):
        check_languages([], ["en"], "x")
