"""Language codes: one scheme for every dataset, and clear errors for unknown ones.

The project's scheme is ISO 639-1 (two letters) wherever a language has such a
code, and the dataset's own ISO 639-2/3 code otherwise (``fil`` Filipino,
``quz`` Cusco Quechua). Datasets disagree: MaXM writes Hebrew ``iw``, some
releases write Japanese ``jp``, FLORES-200 writes ``zho_Hans`` or ``eng_Latn``,
COCO-style files sometimes write ``zh-CN``. :func:`normalize_language` maps all
of these onto the project's codes; :func:`check_languages` validates a
configured list against what a benchmark offers.
"""

from __future__ import annotations

import re
from typing import Iterable

from mvlm_distill.definitions import LANGUAGE_NAMES

# --- the languages each public dataset offers (project codes) -----------------------------

#: Crossmodal-3600: 36 languages (Thapliyal et al., EMNLP 2022).
XM3600_LANGUAGES: tuple[str, ...] = (
    "ar", "bn", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fil", "fr",
    "he", "hi", "hr", "hu", "id", "it", "ja", "ko", "mi", "nl", "no", "pl",
    "pt", "quz", "ro", "ru", "sv", "sw", "te", "th", "tr", "uk", "vi", "zh",
)  # fmt: skip

#: COCO-35L: COCO captions machine-translated into the XM3600 languages except Cusco Quechua.
COCO35L_LANGUAGES: tuple[str, ...] = tuple(code for code in XM3600_LANGUAGES if code != "quz")

#: Multi30K task 1 (parallel translations of one English caption per image).
MULTI30K_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "cs")

#: xFlickr&CO (IGLUE): 1000 Flickr30K + 1000 COCO images, one caption per image and language.
XFLICKRCO_LANGUAGES: tuple[str, ...] = ("en", "de", "es", "id", "ja", "ru", "tr", "zh")

#: xGQA: GQA test-dev balanced questions translated into 7 languages (+ English).
XGQA_LANGUAGES: tuple[str, ...] = ("en", "bn", "de", "id", "ko", "pt", "ru", "zh")

#: MaXM: 7 languages; the release writes Hebrew as ``iw``.
MAXM_LANGUAGES: tuple[str, ...] = ("en", "fr", "hi", "he", "ro", "th", "zh")

DATASET_LANGUAGES: dict[str, tuple[str, ...]] = {
    "xm3600": XM3600_LANGUAGES,
    "coco35l": COCO35L_LANGUAGES,
    "multi30k": MULTI30K_LANGUAGES,
    "xflickrco": XFLICKRCO_LANGUAGES,
    "xgqa": XGQA_LANGUAGES,
    "maxm": MAXM_LANGUAGES,
}

# --- alias tables ----------------------------------------------------------------------------

#: Non-standard or deprecated two/three-letter codes seen in releases.
_ALIASES: dict[str, str] = {
    "jp": "ja",  # country code used as a language code
    "iw": "he",  # deprecated ISO 639 code (MaXM, Google APIs)
    "in": "id",  # deprecated ISO 639 code
    "ji": "yi",  # deprecated ISO 639 code
    "jw": "jv",  # Google Translate's Javanese
    "cz": "cs",  # country code used as a language code
    "dk": "da",  # country code used as a language code
    "gr": "el",  # country code used as a language code
    "ua": "uk",  # country code used as a language code
    "cn": "zh",  # country code used as a language code
    "tl": "fil",  # Tagalog: XM3600 and COCO-35L call the language Filipino
    "nb": "no",  # Norwegian Bokmal: XM3600 writes "no"
    "zh_cn": "zh", "zh_tw": "zh", "zh_hk": "zh", "zh_sg": "zh",
    "zh_hans": "zh", "zh_hant": "zh", "zh_hans_cn": "zh", "zh_hant_tw": "zh",
    "pt_br": "pt", "pt_pt": "pt", "en_us": "en", "en_gb": "en", "es_es": "es", "es_419": "es",
    "fr_fr": "fr", "fr_ca": "fr", "de_de": "de",
}  # fmt: skip

#: ISO 639-2 (bibliographic and terminologic) and ISO 639-3 codes -> ISO 639-1, including the
#: macrolanguage members FLORES-200 uses (arb, pes, zsm, swh, ekk, lvs, npi, cmn, ...).
_ISO3_TO_ISO1: dict[str, str] = {
    "afr": "af", "amh": "am", "ara": "ar", "arb": "ar", "asm": "as", "aze": "az", "azj": "az",
    "bel": "be", "ben": "bn", "bos": "bs", "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs",
    "cym": "cy", "wel": "cy", "dan": "da", "deu": "de", "ger": "de", "ell": "el", "gre": "el",
    "eng": "en", "epo": "eo", "est": "et", "ekk": "et", "eus": "eu", "baq": "eu", "fas": "fa",
    "per": "fa", "pes": "fa", "fin": "fi", "fra": "fr", "fre": "fr", "gle": "ga", "glg": "gl",
    "guj": "gu", "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy",
    "arm": "hy", "ibo": "ig", "ind": "id", "isl": "is", "ice": "is", "ita": "it", "jav": "jv",
    "jpn": "ja", "kan": "kn", "kat": "ka", "geo": "ka", "kaz": "kk", "khm": "km", "kir": "ky",
    "kor": "ko", "lao": "lo", "lav": "lv", "lvs": "lv", "lit": "lt", "ltz": "lb", "mal": "ml",
    "mar": "mr", "mkd": "mk", "mac": "mk", "mlt": "mt", "mon": "mn", "khk": "mn", "mri": "mi",
    "mao": "mi", "msa": "ms", "may": "ms", "zsm": "ms", "mya": "my", "bur": "my", "nep": "ne",
    "npi": "ne", "nld": "nl", "dut": "nl", "nor": "no", "nob": "no", "nno": "nn", "ory": "or",
    "ori": "or", "pan": "pa", "pol": "pl", "por": "pt", "pus": "ps", "pbt": "ps", "ron": "ro",
    "rum": "ro", "rus": "ru", "sin": "si", "slk": "sk", "slo": "sk", "slv": "sl", "snd": "sd",
    "som": "so", "spa": "es", "sqi": "sq", "alb": "sq", "als": "sq", "srp": "sr", "swa": "sw",
    "swh": "sw", "swe": "sv", "tam": "ta", "tel": "te", "tgk": "tg", "tha": "th", "tur": "tr",
    "ukr": "uk", "urd": "ur", "uzb": "uz", "uzn": "uz", "vie": "vi", "xho": "xh", "yid": "yi",
    "ydd": "yi", "yor": "yo", "zho": "zh", "chi": "zh", "cmn": "zh", "yue": "zh", "zul": "zu",
    "tgl": "fil", "fil": "fil", "quz": "quz",
}  # fmt: skip

#: English language names (lower case, spaces as underscores) -> code, as some loaders write them.
_NAMES: dict[str, str] = {name.lower().replace(" ", "_"): code for code, name in LANGUAGE_NAMES.items()}
_NAMES.update({"chinese_simplified": "zh", "farsi": "fa", "tagalog": "fil", "cusco_quechua": "quz",
               "quechua": "quz", "bangla": "bn", "norwegian_bokmal": "no"})  # fmt: skip

#: Per-dataset quirks, applied before the general tables (dataset key -> raw code -> project code).
DATASET_ALIASES: dict[str, dict[str, str]] = {
    "maxm": {"iw": "he"},
    "xflickrco": {"jp": "ja"},
}

_CODE = re.compile(r"^[a-z]{2,3}$")
_FLORES = re.compile(r"^([a-z]{3})_([a-z]{4})$")  # eng_latn, zho_hans (lower-cased)


def _dataset_key(dataset: str | None) -> str | None:
    if dataset is None:
        return None
    return re.sub(r"[^a-z0-9]", "", str(dataset).lower())


def normalize_language(code: str, dataset: str | None = None) -> str:
    """Return the project's code for ``code`` (``jp``->``ja``, ``zho_Hans``->``zh``, ``eng_Latn``->``en``).

    ``dataset`` names where the code comes from: it selects that dataset's quirks and appears in
    the error raised for a code that cannot be a language code.
    """
    if not isinstance(code, str) or not code.strip():
        where = f" in dataset {dataset!r}" if dataset else ""
        raise ValueError(f"Empty or non-string language code {code!r}{where}.")
    raw = code.strip()
    key = raw.lower().replace("-", "_")
    quirks = DATASET_ALIASES.get(_dataset_key(dataset) or "", {})
    if key in quirks:
        return quirks[key]
    if key in _ALIASES:
        return _ALIASES[key]
    match = _FLORES.match(key)
    if match:  # FLORES-200 / NLLB: ISO 639-3 + ISO 15924 script
        return _ISO3_TO_ISO1.get(match.group(1), match.group(1))
    if "_" in key:  # BCP-47 style with region or script: keep the language subtag
        head = key.split("_", 1)[0]
        if _CODE.match(head):
            return normalize_language(head, dataset)
    if key in _NAMES:
        return _NAMES[key]
    if len(key) == 3 and key in _ISO3_TO_ISO1:
        return _ISO3_TO_ISO1[key]
    if _CODE.match(key):
        return key
    where = f" in dataset {dataset!r}" if dataset else ""
    raise ValueError(
        f"Unrecognised language code {code!r}{where}: expected an ISO 639 code (e.g. 'en', 'fil'), "
        "a BCP-47 tag (e.g. 'zh-CN') or a FLORES-200 code (e.g. 'zho_Hans')."
    )


def normalize_languages(codes: Iterable[str], dataset: str | None = None) -> list[str]:
    """Normalise a list of codes, dropping duplicates and keeping the first-seen order."""
    out: list[str] = []
    for code in codes:
        norm = normalize_language(code, dataset)
        if norm not in out:
            out.append(norm)
    return out


def check_languages(
    requested: Iterable[str] | str | None,
    available: Iterable[str],
    where: str,
) -> list[str]:
    """Validate ``requested`` against ``available`` and return the normalised request.

    ``None`` means every available language. ``where`` names the config key or benchmark
    (e.g. ``"benchmarks.xgqa.languages"``); it opens the error message, which lists the
    allowed values.
    """
    allowed = normalize_languages(available)
    if requested is None:
        return allowed
    if isinstance(requested, str):
        requested = [requested]
    requested = list(requested)
    unknown: list[str] = []
    result: list[str] = []
    for code in requested:
        try:
            norm = normalize_language(code)
        except ValueError:
            unknown.append(str(code))
            continue
        if norm not in allowed:
            unknown.append(str(code) if norm == str(code) else f"{code} (= {norm})")
        elif norm not in result:
            result.append(norm)
    if unknown:
        raise ValueError(
            f"{where}: language(s) {', '.join(repr(u) for u in unknown)} not offered; "
            f"allowed values are: {', '.join(sorted(allowed))}."
        )
    if not result:
        raise ValueError(f"{where}: no language requested; allowed values are: {', '.join(sorted(allowed))}.")
    return result


def dataset_languages(dataset: str) -> tuple[str, ...]:
    """The languages a known public dataset offers (project codes)."""
    key = _dataset_key(dataset)
    if key not in DATASET_LANGUAGES:
        raise ValueError(f"Unknown dataset {dataset!r}; known datasets are: {', '.join(sorted(DATASET_LANGUAGES))}.")
    return DATASET_LANGUAGES[key]


# --- resource levels: how the reports group and order languages -----------------------------

#: The default resource level of real languages, highest first (the config's ``resource_levels``
#: replaces it). After the classes of Joshi et al. (2020), "The State and Fate of Linguistic
#: Diversity and Inclusion in the NLP World": classes 5 and 4 are ``high``, 3 ``medium``, 2 to 0
#: ``low``; an approximation to be overridden where a study's teachers saw other data.
DEFAULT_RESOURCE_LEVELS: dict[str, tuple[str, ...]] = {
    "high": ("en", "de", "fr", "es", "ja", "zh", "ar", "ru", "it", "pt", "nl", "ko", "cs", "pl", "fa", "hu",
             "fi", "tr", "vi", "sv", "hi"),
    "medium": ("bn", "da", "el", "he", "hr", "id", "ro", "th", "uk", "fil", "no", "ca", "bg", "sk", "sr", "ms",
               "et", "lt", "lv", "sl", "ta", "ur"),
    "low": ("sw", "te", "mi", "quz", "yo", "zu", "am", "ha", "ig", "so", "ne", "si", "km", "lo", "my"),
}  # fmt: skip
UNCLASSIFIED = "unclassified"  # the level of a language the default table does not know


def resource_groups(languages: Iterable[str], declared: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The evaluation ``languages`` grouped by resource level, levels highest first, each group in
    the order of ``languages``; empty groups are left out.

    ``declared`` is the config's ``resource_levels`` (level -> languages, highest first): it may name
    languages the study does not evaluate, and no language twice. Without it,
    ``DEFAULT_RESOURCE_LEVELS`` applies. A language no level names goes last, as ``unclassified``
    (the config check warns when a declared ``resource_levels`` leaves one out).
    """
    languages = list(languages)
    levels = declared if declared is not None else DEFAULT_RESOURCE_LEVELS
    level_of: dict[str, str] = {}
    for level, members in levels.items():
        for code in members:
            if code in level_of and declared is not None:
                raise ValueError(f"resource_levels: {code!r} is listed under both {level_of[code]!r} and {level!r}; "
                                 "give each language one level.")
            level_of.setdefault(code, level)
    groups: dict[str, list[str]] = {level: [] for level in [*levels, UNCLASSIFIED]}
    for code in languages:
        groups[level_of.get(code, UNCLASSIFIED)].append(code)
    return {level: codes for level, codes in groups.items() if codes}
