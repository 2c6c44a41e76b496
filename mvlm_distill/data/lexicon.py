"""Per-language words, caption templates and VQA templates of the synthetic benchmark.

Nine languages: ``en de fr es ru zh ja th sw`` (Swahili is the low-resource one).
Every caption, question and answer the generator writes is assembled here from
small per-language tables, so that:

* parallel captions (same ``parallel_id``) are translations of each other: the
  content (objects and attributes mentioned) and the template index are shared,
  only the realisation differs;
* grammar is right where the language needs it: adjective agreement with noun
  gender in de/fr/es/ru (and case in German: nominative, accusative after
  "es gibt", dative after "mit"), noun-class agreement in Swahili
  (class 9 ``duara nyekundu`` vs class 3 ``msalaba mwekundu``; ``iko``/``uko``),
  classifiers in Chinese (``一个``/``一颗``), counters in Japanese (``一つ``) and
  Thai (``หนึ่งชิ้น``) answers, French elision (``l'étoile``), English a/an;
* :func:`surface_forms` lists every word or phrase that can occur, which the toy
  tokenizer uses (zh/ja/th are written without spaces between words).

Sources and checking are documented in ``LEXICON.md`` next to this file.
All captions are lower case (German nouns keep their capital, as German
orthography requires) and carry no final punctuation; questions end with the
language's question mark (Thai has none).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "ru", "zh", "ja", "th", "sw")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "centre")
COUNTS: tuple[int, ...] = (1, 2, 3)
QUESTION_KINDS: tuple[str, ...] = ("colour", "shape", "count", "position")
N_TEMPLATES = 3
#: languages written without spaces between words
UNSPACED: frozenset[str] = frozenset({"zh", "ja", "th"})
#: punctuation that may occur in captions, questions or prompts
PUNCTUATION: tuple[str, ...] = ("?", "¿", ",", "，", "、", "？")


@dataclass(frozen=True)
class Mention:
    """One object as a caption mentions it: the shape always, other attributes optionally."""

    shape: str
    colour: str | None = None
    size: str | None = None
    position: str | None = None


# --------------------------------------------------------------------------- tables
# Keys are the canonical English names above; values are surface strings.

_EN = {
    "shape": {s: s for s in SHAPES},
    "colour": {c: c for c in COLOURS},
    "size": {s: s for s in SIZES},
    "position": {
        "left": "on the left", "right": "on the right", "top": "at the top",
        "bottom": "at the bottom", "centre": "in the centre",
    },
    "templates": ["{x}", "there is {x}", "a picture of {x}"],
    "join": " and ",
    "questions": {
        "colour": "what colour is the object {pos}?",
        "shape": "what shape is the object {pos}?",
        "count": "how many objects are there?",
        "position": "where is {np}?",
    },
    "counts": {1: "one", 2: "two", 3: "three"},
    "words": ["a", "an", "the"],
}

# German: gender m/n/f; mixed declension after ein/einen/einem, weak after der/das/die.
_DE_NOUNS = {
    "circle": ("Kreis", "m"), "square": ("Quadrat", "n"), "triangle": ("Dreieck", "n"),
    "diamond": ("Raute", "f"), "cross": ("Kreuz", "n"), "star": ("Stern", "m"),
}
_DE_ADJ = {
    "small": "klein", "large": "groß", "red": "rot", "green": "grün", "blue": "blau",
    "yellow": "gelb", "purple": "violett", "orange": "orangefarben", "white": "weiß",
    "black": "schwarz",
}
_DE_INDEF = {  # case -> gender -> (article, adjective ending)
    "nom": {"m": ("ein", "er"), "n": ("ein", "es"), "f": ("eine", "e")},
    "acc": {"m": ("einen", "en"), "n": ("ein", "es"), "f": ("eine", "e")},
    "dat": {"m": ("einem", "en"), "n": ("einem", "en"), "f": ("einer", "en")},
}
_DE_DEF_NOM = {"m": "der", "n": "das", "f": "die"}
_DE = {
    "shape": {k: v[0] for k, v in _DE_NOUNS.items()},
    "colour": dict((c, _DE_ADJ[c]) for c in COLOURS),   # predicative (answers)
    "position": {"left": "links", "right": "rechts", "top": "oben", "bottom": "unten",
                 "centre": "in der Mitte"},
    "templates": ["{x}", "es gibt {x}", "ein Bild mit {x}"],
    "template_case": ["nom", "acc", "dat"],
    "join": " und ",
    "questions": {
        "colour": "welche Farbe hat das Objekt {pos}?",
        "shape": "welche Form hat das Objekt {pos}?",
        "count": "wie viele Objekte sind im Bild?",
        "position": "wo ist {np}?",
    },
    "counts": {1: "eins", 2: "zwei", 3: "drei"},
    "words": (["ein", "eine", "einen", "einem", "einer", "der", "das", "die"]
              + [stem + end for stem in _DE_ADJ.values() for end in ("e", "er", "es", "en")]),
}

# French: size before the noun, colour after; un/une, le/la/l'.
_FR_NOUNS = {
    "circle": ("cercle", "m"), "square": ("carré", "m"), "triangle": ("triangle", "m"),
    "diamond": ("losange", "m"), "cross": ("croix", "f"), "star": ("étoile", "f"),
}
_FR_ADJ = {  # key -> (masculine, feminine)
    "small": ("petit", "petite"), "large": ("grand", "grande"),
    "red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
    "yellow": ("jaune", "jaune"), "purple": ("violet", "violette"), "orange": ("orange", "orange"),
    "white": ("blanc", "blanche"), "black": ("noir", "noire"),
}
_FR = {
    "shape": {k: v[0] for k, v in _FR_NOUNS.items()},
    "colour": {c: _FR_ADJ[c][0] for c in COLOURS},   # agrees with "l'objet" (m)
    "position": {"left": "à gauche", "right": "à droite", "top": "en haut", "bottom": "en bas",
                 "centre": "au centre"},
    "templates": ["{x}", "il y a {x}", "une image avec {x}"],
    "join": " et ",
    "questions": {
        "colour": "de quelle couleur est l'objet {pos} ?",
        "shape": "quelle est la forme de l'objet {pos} ?",
        "count": "combien d'objets y a-t-il ?",
        "position": "où est {np} ?",
    },
    "counts": {1: "un", 2: "deux", 3: "trois"},
    "words": (["un", "une", "le", "la", "l'", "l'étoile", "l'objet", "d'objets", "a-t-il"]
              + [f for pair in _FR_ADJ.values() for f in pair]),
}

# Spanish: noun, colour, size; un/una, el/la.
_ES_NOUNS = {
    "circle": ("círculo", "m"), "square": ("cuadrado", "m"), "triangle": ("triángulo", "m"),
    "diamond": ("rombo", "m"), "cross": ("cruz", "f"), "star": ("estrella", "f"),
}
_ES_ADJ = {
    "small": ("pequeño", "pequeña"), "large": ("grande", "grande"),
    "red": ("rojo", "roja"), "green": ("verde", "verde"), "blue": ("azul", "azul"),
    "yellow": ("amarillo", "amarilla"), "purple": ("morado", "morada"),
    "orange": ("naranja", "naranja"), "white": ("blanco", "blanca"), "black": ("negro", "negra"),
}
_ES = {
    "shape": {k: v[0] for k, v in _ES_NOUNS.items()},
    "colour": {c: _ES_ADJ[c][0] for c in COLOURS},   # agrees with "el objeto" (m)
    "position": {"left": "a la izquierda", "right": "a la derecha", "top": "arriba",
                 "bottom": "abajo", "centre": "en el centro"},
    "templates": ["{x}", "hay {x}", "una imagen con {x}"],
    "join": " y ",
    "questions": {
        "colour": "¿de qué color es el objeto {pos}?",
        "shape": "¿qué forma tiene el objeto {pos}?",
        "count": "¿cuántos objetos hay?",
        "position": "¿dónde está {np}?",
    },
    "counts": {1: "uno", 2: "dos", 3: "tres"},
    "words": ["un", "una", "el", "la"] + [f for pair in _ES_ADJ.values() for f in pair],
}

# Russian: size, colour, noun (nominative); masculine/feminine adjective endings.
_RU_NOUNS = {
    "circle": ("круг", "m"), "square": ("квадрат", "m"), "triangle": ("треугольник", "m"),
    "diamond": ("ромб", "m"), "cross": ("крест", "m"), "star": ("звезда", "f"),
}
_RU_ADJ = {
    "small": ("маленький", "маленькая"), "large": ("большой", "большая"),
    "red": ("красный", "красная"), "green": ("зелёный", "зелёная"), "blue": ("синий", "синяя"),
    "yellow": ("жёлтый", "жёлтая"), "purple": ("фиолетовый", "фиолетовая"),
    "orange": ("оранжевый", "оранжевая"), "white": ("белый", "белая"), "black": ("чёрный", "чёрная"),
}
_RU = {
    "shape": {k: v[0] for k, v in _RU_NOUNS.items()},
    "colour": {c: _RU_ADJ[c][0] for c in COLOURS},   # agrees with "объект" (m)
    "position": {"left": "слева", "right": "справа", "top": "сверху", "bottom": "снизу",
                 "centre": "в центре"},
    "templates": ["{x}", "на картинке {x}", "на рисунке {x}"],
    "join": " и ",
    "questions": {
        "colour": "какого цвета объект {pos}?",
        "shape": "какой формы объект {pos}?",
        "count": "сколько объектов на картинке?",
        "position": "где {np}?",
    },
    "counts": {1: "один", 2: "два", 3: "три"},
    "words": [f for pair in _RU_ADJ.values() for f in pair],
}

# Chinese: [位置]有 一 + 量词 + [颜色的] + [大小] + 名词; classifier 个, 颗 for 星星.
_ZH_NOUNS = {
    "circle": ("圆形", "个"), "square": ("正方形", "个"), "triangle": ("三角形", "个"),
    "diamond": ("菱形", "个"), "cross": ("十字", "个"), "star": ("星星", "颗"),
}
_ZH = {
    "shape": {k: v[0] for k, v in _ZH_NOUNS.items()},
    "colour": {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色",
               "orange": "橙色", "white": "白色", "black": "黑色"},
    "size": {"small": "小", "large": "大"},
    "position": {"left": "左边", "right": "右边", "top": "上面", "bottom": "下面", "centre": "中间"},
    "templates": ["{x}", "图中{x}", "画面中{x}"],
    "questions": {
        "colour": "{pos}的物体是什么颜色？",
        "shape": "{pos}的物体是什么形状？",
        "count": "图中有几个物体？",
        "position": "{np}在哪里？",
    },
    "counts": {1: "一个", 2: "两个", 3: "三个"},
    "words": ["一", "个", "颗", "的", "有", "还有", "，", "图中", "画面中", "图", "中", "画面",
              # question words
              "物体", "是", "什么", "颜色", "形状", "几", "在", "哪里", "？",
              # count answers: numeral + classifier
              "两", "三"],
}

# Japanese: [位置に] + [大きさ][色]名詞 + があります; two clauses joined with があり、
_JA = {
    "shape": {"circle": "丸", "square": "四角", "triangle": "三角", "diamond": "ひし形",
              "cross": "十字", "star": "星"},
    "colour_attr": {"red": "赤い", "green": "緑の", "blue": "青い", "yellow": "黄色い",
                    "purple": "紫の", "orange": "オレンジの", "white": "白い", "black": "黒い"},
    "colour": {"red": "赤", "green": "緑", "blue": "青", "yellow": "黄色", "purple": "紫",
               "orange": "オレンジ", "white": "白", "black": "黒"},
    "size": {"small": "小さい", "large": "大きい"},
    "position": {"left": "左", "right": "右", "top": "上", "bottom": "下", "centre": "真ん中"},
    "templates": ["{x}", "この絵では{x}", "この画像では{x}"],
    "questions": {
        "colour": "{pos}にある物体は何色ですか？",
        "shape": "{pos}にある物体はどんな形ですか？",
        "count": "物体はいくつありますか？",
        "position": "{np}はどこにありますか？",
    },
    "counts": {1: "一つ", 2: "二つ", 3: "三つ"},
    "words": ["に", "が", "あります", "あり", "、", "この", "絵", "画像", "では",
              # question words
              "ある", "物体", "は", "何色", "です", "か", "どんな", "形", "いくつ", "どこ", "？",
              # count answers: numeral + counter つ
              "一", "二", "三", "つ"],
}

# Thai: มี + noun + [สี...] + [ขนาด...] + [อยู่ + position]; clauses joined with " และ".
_TH = {
    "shape": {"circle": "วงกลม", "square": "สี่เหลี่ยมจัตุรัส", "triangle": "สามเหลี่ยม",
              "diamond": "สี่เหลี่ยมขนมเปียกปูน", "cross": "กากบาท", "star": "รูปดาว"},
    "colour": {"red": "สีแดง", "green": "สีเขียว", "blue": "สีน้ำเงิน", "yellow": "สีเหลือง",
               "purple": "สีม่วง", "orange": "สีส้ม", "white": "สีขาว", "black": "สีดำ"},
    "size": {"small": "ขนาดเล็ก", "large": "ขนาดใหญ่"},
    "position": {"left": "ทางซ้าย", "right": "ทางขวา", "top": "ด้านบน", "bottom": "ด้านล่าง",
                 "centre": "ตรงกลาง"},
    "templates": ["{x}", "ในภาพ{x}", "ภาพนี้{x}"],
    "questions": {
        "colour": "วัตถุที่อยู่{pos}เป็นสีอะไร",
        "shape": "วัตถุที่อยู่{pos}เป็นรูปทรงอะไร",
        "count": "ในภาพมีวัตถุกี่ชิ้น",
        "position": "{np}อยู่ที่ไหน",
    },
    "counts": {1: "หนึ่งชิ้น", 2: "สองชิ้น", 3: "สามชิ้น"},
    "words": ["มี", "อยู่", "และ", "ในภาพ", "ภาพนี้", "ใน", "ภาพ", "นี้",
              # question words
              "วัตถุ", "ที่", "เป็น", "สี", "อะไร", "รูปทรง", "กี่", "ที่ไหน", "ไหน",
              # count answers: numeral + classifier ชิ้น
              "หนึ่ง", "สอง", "สาม", "ชิ้น"],
}

# Swahili: noun + size + colour + position; agreement with noun class 9 (i-/zi-) or 3 (u-/i-).
_SW_NOUNS = {
    "circle": ("duara", 9), "square": ("mraba", 3), "triangle": ("pembetatu", 9),
    "diamond": ("almasi", 9), "cross": ("msalaba", 3), "star": ("nyota", 9),
}
_SW_ADJ = {
    9: {"small": "ndogo", "large": "kubwa", "red": "nyekundu", "green": "ya kijani",
        "blue": "ya bluu", "yellow": "ya njano", "purple": "ya zambarau",
        "orange": "ya machungwa", "white": "nyeupe", "black": "nyeusi"},
    3: {"small": "mdogo", "large": "mkubwa", "red": "mwekundu", "green": "wa kijani",
        "blue": "wa bluu", "yellow": "wa njano", "purple": "wa zambarau",
        "orange": "wa machungwa", "white": "mweupe", "black": "mweusi"},
}
_SW_COPULA = {9: "iko", 3: "uko"}
_SW = {
    "shape": {k: v[0] for k, v in _SW_NOUNS.items()},
    "colour": {c: _SW_ADJ[9][c] for c in COLOURS},   # agrees with "rangi" (class 9)
    "position": {"left": "upande wa kushoto", "right": "upande wa kulia", "top": "juu",
                 "bottom": "chini", "centre": "katikati"},
    "templates": ["{x}", "kuna {x}", "picha yenye {x}"],
    "join": " na ",
    "questions": {
        "colour": "kitu kilicho {pos} kina rangi gani?",
        "shape": "kitu kilicho {pos} kina umbo gani?",
        "count": "kuna vitu vingapi?",
        "position": "{np} {cop} wapi?",
    },
    "counts": {1: "kimoja", 2: "viwili", 3: "vitatu"},
    "words": list(_SW_ADJ[9].values()) + list(_SW_ADJ[3].values()) + list(_SW_COPULA.values()),
}

_TABLES = {"en": _EN, "de": _DE, "fr": _FR, "es": _ES, "ru": _RU, "zh": _ZH, "ja": _JA,
           "th": _TH, "sw": _SW}


def _check_language(language: str) -> dict:
    try:
        return _TABLES[language]
    except KeyError:
        raise ValueError(
            f"language {language!r} has no lexicon; known: {', '.join(LANGUAGES)}"
        ) from None


# --------------------------------------------------------------------------- noun phrases

def _np_en(m: Mention) -> str:
    words = [w for w in (m.size, m.colour) if w] + [m.shape]
    art = "an" if words[0][0] in "aeiou" else "a"
    phrase = f"{art} {' '.join(words)}"
    return f"{phrase} {_EN['position'][m.position]}" if m.position else phrase


def _np_de(m: Mention, case: str) -> str:
    noun, gender = _DE_NOUNS[m.shape]
    art, end = _DE_INDEF[case][gender]
    adjs = [_DE_ADJ[a] + end for a in (m.size, m.colour) if a]
    phrase = " ".join([art, *adjs, noun])
    return f"{phrase} {_DE['position'][m.position]}" if m.position else phrase


def _np_fr(m: Mention) -> str:
    noun, gender = _FR_NOUNS[m.shape]
    g = 0 if gender == "m" else 1
    words = ["un" if g == 0 else "une"]
    if m.size:
        words.append(_FR_ADJ[m.size][g])
    words.append(noun)
    if m.colour:
        words.append(_FR_ADJ[m.colour][g])
    if m.position:
        words.append(_FR["position"][m.position])
    return " ".join(words)


def _np_es(m: Mention) -> str:
    noun, gender = _ES_NOUNS[m.shape]
    g = 0 if gender == "m" else 1
    words = ["un" if g == 0 else "una", noun]
    words += [_ES_ADJ[a][g] for a in (m.colour, m.size) if a]
    if m.position:
        words.append(_ES["position"][m.position])
    return " ".join(words)


def _np_ru(m: Mention) -> str:
    noun, gender = _RU_NOUNS[m.shape]
    g = 0 if gender == "m" else 1
    words = [_RU_ADJ[a][g] for a in (m.size, m.colour) if a] + [noun]
    if m.position:
        words.append(_RU["position"][m.position])
    return " ".join(words)


def _np_sw(m: Mention) -> str:
    noun, cls = _SW_NOUNS[m.shape]
    words = [noun] + [_SW_ADJ[cls][a] for a in (m.size, m.colour) if a]
    if m.position:
        words.append(_SW["position"][m.position])
    return " ".join(words)


def _clause_zh(m: Mention, second: bool) -> str:
    noun, clf = _ZH_NOUNS[m.shape]
    np_ = "一" + clf + (_ZH["colour"][m.colour] + "的" if m.colour else "")
    np_ += (_ZH["size"][m.size] if m.size else "") + noun
    if m.position:
        return _ZH["position"][m.position] + "有" + np_
    return ("还有" if second else "有") + np_


def _clause_ja(m: Mention) -> str:
    np_ = (_JA["size"][m.size] if m.size else "") + (_JA["colour_attr"][m.colour] if m.colour else "")
    np_ += _JA["shape"][m.shape]
    return (_JA["position"][m.position] + "に" if m.position else "") + np_


def _clause_th(m: Mention) -> str:
    text = "มี" + _TH["shape"][m.shape]
    text += (_TH["colour"][m.colour] if m.colour else "") + (_TH["size"][m.size] if m.size else "")
    return text + ("อยู่" + _TH["position"][m.position] if m.position else "")


# --------------------------------------------------------------------------- public API

def caption(language: str, mentions: list[Mention] | tuple[Mention, ...], template: int = 0) -> str:
    """Realise one caption mentioning 1 or 2 objects with caption template ``template``."""
    table = _check_language(language)
    if not 1 <= len(mentions) <= 2:
        raise ValueError(f"a caption mentions 1 or 2 objects, not {len(mentions)}")
    if not 0 <= template < N_TEMPLATES:
        raise ValueError(f"template must be in 0..{N_TEMPLATES - 1}, not {template}")
    frame = table["templates"][template]
    if language == "en":
        body = _EN["join"].join(_np_en(m) for m in mentions)
    elif language == "de":
        case = _DE["template_case"][template]
        body = _DE["join"].join(_np_de(m, case) for m in mentions)
    elif language in ("fr", "es", "ru", "sw"):
        np_fn = {"fr": _np_fr, "es": _np_es, "ru": _np_ru, "sw": _np_sw}[language]
        body = table["join"].join(np_fn(m) for m in mentions)
    elif language == "zh":
        body = "，".join(_clause_zh(m, i > 0) for i, m in enumerate(mentions))
    elif language == "ja":
        body = "があり、".join(_clause_ja(m) for m in mentions) + "があります"
    elif language == "th":
        body = " และ".join(_clause_th(m) for m in mentions)
    else:  # pragma: no cover - guarded by _check_language
        raise AssertionError(language)
    return frame.format(x=body)


def _definite_np(language: str, shape: str, colour: str) -> tuple[str, dict]:
    """The definite noun phrase 'the <colour> <shape>' used by position questions."""
    if language == "en":
        return f"the {colour} {shape}", {}
    if language == "de":
        noun, g = _DE_NOUNS[shape]
        return f"{_DE_DEF_NOM[g]} {_DE_ADJ[colour]}e {noun}", {}
    if language == "fr":
        noun, g = _FR_NOUNS[shape]
        art = "l'" if noun[0] in "aeiouéèh" else ("le " if g == "m" else "la ")
        return f"{art}{noun} {_FR_ADJ[colour][0 if g == 'm' else 1]}", {}
    if language == "es":
        noun, g = _ES_NOUNS[shape]
        return f"{'el' if g == 'm' else 'la'} {noun} {_ES_ADJ[colour][0 if g == 'm' else 1]}", {}
    if language == "ru":
        noun, g = _RU_NOUNS[shape]
        return f"{_RU_ADJ[colour][0 if g == 'm' else 1]} {noun}", {}
    if language == "zh":
        return _ZH["colour"][colour] + "的" + _ZH["shape"][shape], {}
    if language == "ja":
        return _JA["colour_attr"][colour] + _JA["shape"][shape], {}
    if language == "th":
        return _TH["shape"][shape] + _TH["colour"][colour], {}
    if language == "sw":
        noun, cls = _SW_NOUNS[shape]
        return f"{noun} {_SW_ADJ[cls][colour]}", {"cop": _SW_COPULA[cls]}
    raise ValueError(language)


def question_templates(language: str) -> dict[str, str]:
    """The VQA question template of each kind (``str.format`` slots: pos, np, cop)."""
    return dict(_check_language(language)["questions"])


def question(language: str, kind: str, *, position: str | None = None,
             shape: str | None = None, colour: str | None = None) -> str:
    """A VQA question. colour/shape questions ask about the object at ``position``;
    position questions about the (unique) object with ``colour`` and ``shape``."""
    table = _check_language(language)
    template = table["questions"][kind]
    if kind in ("colour", "shape"):
        return template.format(pos=table["position"][position])
    if kind == "count":
        return template
    if kind == "position":
        np_, extra = _definite_np(language, shape, colour)
        return template.format(np=np_, **extra)
    raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(QUESTION_KINDS)}")


def candidates(language: str, kind: str) -> list[str]:
    """All answers a question of ``kind`` can have, in canonical order."""
    table = _check_language(language)
    if kind == "colour":
        return [table["colour"][c] for c in COLOURS]
    if kind == "shape":
        return [table["shape"][s] for s in SHAPES]
    if kind == "count":
        return [table["counts"][n] for n in COUNTS]
    if kind == "position":
        return [table["position"][p] for p in POSITIONS]
    raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(QUESTION_KINDS)}")


def answer(language: str, kind: str, value) -> str:
    """The answer string for canonical ``value`` (a colour/shape/position key or a count)."""
    keys = {"colour": COLOURS, "shape": SHAPES, "count": COUNTS, "position": POSITIONS}[kind]
    return candidates(language, kind)[keys.index(value)]


def vqa_prompt(language: str, question: str, answer: str) -> str:
    """The text the VQA scorer embeds for one (question, candidate answer) pair."""
    _check_language(language)
    sep = "" if language in ("zh", "ja") else " "
    return f"{question}{sep}{answer}"


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def _literal_chunks(template: str) -> list[str]:
    return [lit for lit, *_ in string.Formatter().parse(template) if lit]


@lru_cache(maxsize=None)
def _surface_forms(language: str) -> tuple[str, ...]:
    table = _check_language(language)
    lexical: set[str] = set()
    literal: set[str] = set()
    for key, value in table.items():
        if key == "template_case":
            continue
        if key in ("templates", "questions"):
            for t in _strings(value):
                literal.update(_literal_chunks(t))
        else:
            lexical.update(_strings(value))
    if language == "ja":
        lexical.add("があり、")
    pieces: set[str] = set(PUNCTUATION)
    for f in lexical:
        pieces.update(_words_of(f))
        if f.strip():
            pieces.add(f.strip())  # phrases ("on the left", "สีแดง") as well as their words
    if language not in UNSPACED:
        for f in literal:
            pieces.update(_words_of(f))
    else:
        # templates of unspaced languages are made of the words listed in "words"
        # (checked by the tests through segment()); caption prefixes are words too.
        for t in table["templates"]:
            pieces.update(c.strip() for c in _literal_chunks(t) if c.strip())
    return tuple(sorted(p for p in pieces if p))


_PUNCT_RE = re.compile("([" + re.escape("".join(PUNCTUATION)) + "])")


def _words_of(text: str) -> list[str]:
    """Split on whitespace and punctuation (punctuation kept as its own token)."""
    out: list[str] = []
    for chunk in text.split():
        out.extend(p for p in _PUNCT_RE.split(chunk) if p)
    return out


def surface_forms(language: str) -> list[str]:
    """Every word or phrase that can appear in captions, questions and answers of ``language``.

    For spaced languages this holds every single word plus multi-word phrases;
    for zh/ja/th every lexical item (they have no spaces between words).
    Punctuation marks are included. Sorted, deterministic.
    """
    return list(_surface_forms(language))


def segment(language: str, text: str) -> list[str]:
    """Split ``text`` into surface forms (fewest pieces); ``ValueError`` if it cannot be covered.

    Spaced languages: split on whitespace and punctuation and check each word.
    zh/ja/th: dynamic programming over the lexicon within each space-separated chunk.
    """
    forms = set(_surface_forms(language))
    if language not in UNSPACED:
        words = _words_of(text)
        unknown = [w for w in words if w not in forms]
        if unknown:
            raise ValueError(f"{language}: {unknown[0]!r} in {text!r} is not in the lexicon")
        return words
    max_len = max(len(f) for f in forms)
    out: list[str] = []
    for chunk in text.split():
        n = len(chunk)
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        for i in range(n):
            if best[i] is None:
                continue
            for j in range(i + 1, min(n, i + max_len) + 1):
                piece = chunk[i:j]
                if piece in forms and (best[j] is None or len(best[i]) + 1 < len(best[j])):
                    best[j] = best[i] + [piece]
        if best[n] is None:
            raise ValueError(f"{language}: {chunk!r} in {text!r} cannot be split into lexicon entries")
        out.extend(best[n])
    return out


def translation(language: str, category: str, key: str) -> str:
    """The citation form of a colour, shape, size or position key in ``language``."""
    table = _check_language(language)
    if category == "size" and "size" not in table:
        return _size_citation(language, key)
    return table[category][key]


def _size_citation(language: str, key: str) -> str:
    if language == "de":
        return _DE_ADJ[key]
    if language == "fr":
        return _FR_ADJ[key][0]
    if language == "es":
        return _ES_ADJ[key][0]
    if language == "ru":
        return _RU_ADJ[key][0]
    if language == "sw":
        return _SW_ADJ[9][key]
    raise ValueError(f"{language}: no size word {key!r}")


def question_markers(language: str) -> list[str]:
    """The literal parts of the question templates (they must never occur in captions)."""
    chunks = []
    for t in question_templates(language).values():
        chunks.extend(c for c in _literal_chunks(t) if len(c.strip()) >= 3)
    return chunks
