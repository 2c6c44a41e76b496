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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "ru", "zh", "ja", "th", "sw")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "centre")
COUNTS: tuple[int, ...] = (1, 2, 3)
#: shape is not asked: the toy teachers do not learn to see it (docs/notes/vqa_design.md)
QUESTION_KINDS: tuple[str, ...] = ("colour", "size", "count", "position")
N_TEMPLATES = 4
#: caption frames that state the number of objects (the template index modulo this picks one)
N_COUNT_TEMPLATES = 2
#: languages written without spaces between words
UNSPACED: frozenset[str] = frozenset({"zh", "ja", "th"})
#: punctuation that may occur in captions, questions or prompts
PUNCTUATION: tuple[str, ...] = ("?", "¿", ",", "，", "、", "？", ":", "：")


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
    "templates": ["{x}", "there is {x}", "a picture of {x}", "this image shows {x}"],
    "count_templates": ["{n}: {x}", "a picture of {n}: {x}"],
    "count_phrases": {1: "one object", 2: "two objects", 3: "three objects"},
    "join": " and ",
    "questions": {
        "colour": "what colour is the object {pos}?",
        "size": "what size is the object {pos}?",
        "count": "how many objects are there?",
        "position": "where is {np}?",
    },
    "counts": {1: "one object", 2: "two objects", 3: "three objects"},
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
    # colour nouns (answers: "welche Farbe ...? Blau"); captions teach them in "ein Dreieck in Blau"
    "colour": {"red": "Rot", "green": "Grün", "blue": "Blau", "yellow": "Gelb", "purple": "Violett",
               "orange": "Orange", "white": "Weiß", "black": "Schwarz"},
    "position": {"left": "links", "right": "rechts", "top": "oben", "bottom": "unten",
                 "centre": "in der Mitte"},
    "templates": ["{x}", "es gibt {x}", "ein Bild mit {x}", "das Bild zeigt {x}"],
    "template_case": ["nom", "acc", "dat", "acc"],
    "count_templates": ["{n}: {x}", "{n} im Bild: {x}"],
    "count_phrases": {1: "ein Objekt", 2: "zwei Objekte", 3: "drei Objekte"},
    "join": " und ",
    "questions": {
        "colour": "welche Farbe hat das Objekt {pos}?",
        "size": "welche Größe hat das Objekt {pos}?",
        "count": "wie viele Objekte sind im Bild?",
        "position": "wo ist {np}?",
    },
    "counts": {1: "ein Objekt", 2: "zwei Objekte", 3: "drei Objekte"},
    "size_answers": {s: _DE_ADJ[s] + "es" for s in SIZES},  # neuter, as "das Objekt"
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
    "templates": ["{x}", "il y a {x}", "une image avec {x}", "l'image montre {x}"],
    "count_templates": ["{n} : {x}", "{n} sur l'image : {x}"],
    "count_phrases": {1: "un objet", 2: "deux objets", 3: "trois objets"},
    "join": " et ",
    "questions": {
        "colour": "de quelle couleur est l'objet {pos} ?",
        "size": "quelle est la taille de l'objet {pos} ?",
        "count": "combien d'objets y a-t-il ?",
        "position": "où est {np} ?",
    },
    "counts": {1: "un objet", 2: "deux objets", 3: "trois objets"},
    "size_answers": {s: _FR_ADJ[s][0] for s in SIZES},  # masculine, as "l'objet"
    "words": (["un", "une", "le", "la", "l'", "l'étoile", "l'objet", "d'objets", "a-t-il", "l'image"]
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
    "templates": ["{x}", "hay {x}", "una imagen con {x}", "la imagen muestra {x}"],
    "count_templates": ["{n}: {x}", "{n} en la imagen: {x}"],
    "count_phrases": {1: "un objeto", 2: "dos objetos", 3: "tres objetos"},
    "join": " y ",
    "questions": {
        "colour": "¿de qué color es el objeto {pos}?",
        "size": "¿de qué tamaño es el objeto {pos}?",
        "count": "¿cuántos objetos hay?",
        "position": "¿dónde está {np}?",
    },
    "counts": {1: "un objeto", 2: "dos objetos", 3: "tres objetos"},
    "size_answers": {s: _ES_ADJ[s][0] for s in SIZES},
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
    "templates": ["{x}", "на картинке {x}", "на рисунке {x}", "на изображении {x}"],
    "count_templates": ["{n}: {x}", "на картинке {n}: {x}"],
    "count_phrases": {1: "один объект", 2: "два объекта", 3: "три объекта"},
    "join": " и ",
    "questions": {
        "colour": "какого цвета объект {pos}?",
        "size": "какого размера объект {pos}?",
        "count": "сколько объектов на картинке?",
        "position": "где {np}?",
    },
    "counts": {1: "один объект", 2: "два объекта", 3: "три объекта"},
    "size_answers": {s: _RU_ADJ[s][0] for s in SIZES},
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
    "templates": ["{x}", "图中{x}", "画面中{x}", "这张图里{x}"],
    "count_templates": ["{n}：{x}", "图中共有{n}：{x}"],
    "count_phrases": {1: "一个物体", 2: "两个物体", 3: "三个物体"},
    "questions": {
        "colour": "{pos}的物体是什么颜色？",
        "size": "{pos}的物体尺寸如何？",
        "count": "图中有几个物体？",
        "position": "{np}在哪里？",
    },
    "counts": {1: "一个", 2: "两个", 3: "三个"},
    "words": ["一", "个", "颗", "的", "有", "还有", "，", "图中", "画面中", "图", "中", "画面",
              # question words
              "物体", "是", "什么", "颜色", "尺寸", "如何", "几", "在", "哪里", "？",
              # count answers: numeral + classifier
              "两", "三", "这张", "图里", "共有", "：", "一个", "两个", "三个"],
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
    "templates": ["{x}", "この絵では{x}", "この画像では{x}", "画面には{x}"],
    "count_templates": ["{n}あります：{x}", "この絵には{n}あります：{x}"],
    "count_phrases": {1: "物体が一つ", 2: "物体が二つ", 3: "物体が三つ"},
    "questions": {
        "colour": "{pos}にある物体は何色ですか？",
        "size": "{pos}にある物体はどのくらいのサイズですか？",
        "count": "物体はいくつありますか？",
        "position": "{np}はどこにありますか？",
    },
    "counts": {1: "一つ", 2: "二つ", 3: "三つ"},
    "words": ["に", "が", "あります", "あり", "、", "この", "絵", "画像", "では",
              # question words
              "ある", "物体", "は", "何色", "です", "か", "どのくらい", "の", "サイズ", "いくつ", "どこ", "？",
              # count answers: numeral + counter つ
              "一", "二", "三", "つ", "画面", "には", "：", "一つ", "二つ", "三つ"],
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
    "templates": ["{x}", "ในภาพ{x}", "ภาพนี้{x}", "ในรูป{x}"],
    "count_templates": ["มี{n}: {x}", "ในภาพมี{n}: {x}"],
    "count_phrases": {1: "วัตถุหนึ่งชิ้น", 2: "วัตถุสองชิ้น", 3: "วัตถุสามชิ้น"},
    "questions": {
        "colour": "วัตถุที่อยู่{pos}เป็นสีอะไร",
        "size": "วัตถุที่อยู่{pos}มีขนาดเท่าใด",
        "count": "ในภาพมีวัตถุกี่ชิ้น",
        "position": "{np}อยู่ที่ไหน",
    },
    "counts": {1: "หนึ่งชิ้น", 2: "สองชิ้น", 3: "สามชิ้น"},
    "words": ["มี", "อยู่", "และ", "ในภาพ", "ภาพนี้", "ใน", "ภาพ", "นี้",
              # question words
              "วัตถุ", "ที่", "เป็น", "สี", "อะไร", "ขนาด", "เท่าใด", "กี่", "ที่ไหน", "ไหน",
              # count answers: numeral + classifier ชิ้น
              "หนึ่ง", "สอง", "สาม", "ชิ้น", "ในรูป", "รูป", ":"],
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
    "templates": ["{x}", "kuna {x}", "picha yenye {x}", "picha inaonyesha {x}"],
    "count_templates": ["{n}: {x}", "picha ina {n}: {x}"],
    "count_phrases": {1: "kitu kimoja", 2: "vitu viwili", 3: "vitu vitatu"},
    "join": " na ",
    "questions": {
        "colour": "kitu kilicho {pos} kina rangi gani?",
        "size": "kitu kilicho {pos} kina ukubwa gani?",
        "count": "kuna vitu vingapi?",
        "position": "{np} {cop} wapi?",
    },
    "counts": {1: "kitu kimoja", 2: "vitu viwili", 3: "vitu vitatu"},
    "size_answers": {s: _SW_ADJ[9][s] for s in SIZES},  # class 9, as the colour answers
    "words": list(_SW_ADJ[9].values()) + list(_SW_ADJ[3].values()) + list(_SW_COPULA.values()),
}

# Synonyms: alternative realisations a caption may use instead of the first (citation) form,
# chosen per caption and language (questions and answers use the citation forms). Nouns of
# gendered languages carry their gender or class; adjectives their agreement forms.
_ALTERNATIVES: dict[str, dict[str, dict[str, list]]] = {
    "en": {"shape": {"circle": ["disc"], "diamond": ["rhombus"], "cross": ["plus sign"]},
           "colour": {"purple": ["violet"]},
           "size": {"small": ["little"], "large": ["big"]},
           "position": {"left": ["on the left side"], "right": ["on the right side"], "top": ["near the top"],
                        "bottom": ["near the bottom"], "centre": ["in the middle"]}},
    "de": {"shape": {"square": [("Viereck", "n")], "circle": [("Scheibe", "f")]},
           "colour": {"purple": ["lilafarben"]},
           # the colour as a phrase after the noun, with the colour noun: "ein Dreieck in Blau"
           "colour_phrase": {c: [f"in {_DE['colour'][c]}"] for c in COLOURS},
           "position": {"left": ["auf der linken Seite"], "right": ["auf der rechten Seite"],
                        "centre": ["mittig"]}},
    "fr": {"shape": {"circle": [("rond", "m")]},
           "colour": {"purple": [("mauve", "mauve")]},
           "position": {"centre": ["au milieu"], "left": ["sur la gauche"], "right": ["sur la droite"]}},
    "es": {"shape": {"circle": [("redondel", "m")]},
           "colour": {"purple": [("violeta", "violeta")]},
           "position": {"centre": ["en medio"], "top": ["en la parte de arriba"],
                        "bottom": ["en la parte de abajo"]}},
    "ru": {"shape": {"circle": [("кружок", "m")]},
           "colour": {"purple": [("лиловый", "лиловая")]},
           "position": {"centre": ["посередине"], "top": ["наверху"], "bottom": ["внизу"]}},
    "zh": {"shape": {"circle": [("圆", "个")], "square": [("方块", "个")]},
           "position": {"left": ["左侧"], "right": ["右侧"], "top": ["上方"], "bottom": ["下方"],
                        "centre": ["中央"]}},
    "ja": {"shape": {"circle": ["円"], "square": ["正方形"]},
           "position": {"centre": ["中央"]}},
    "th": {"shape": {"star": ["ดาว"], "circle": ["รูปวงกลม"]},
           "position": {"left": ["ด้านซ้าย"], "right": ["ด้านขวา"]}},
    "sw": {"shape": {"circle": [("mduara", 3)]},
           "position": {"left": ["kushoto"], "right": ["kulia"]}},
}

_TABLES = {"en": _EN, "de": _DE, "fr": _FR, "es": _ES, "ru": _RU, "zh": _ZH, "ja": _JA,
           "th": _TH, "sw": _SW}


for _lang, _alts in _ALTERNATIVES.items():
    _TABLES[_lang]["alternatives"] = sorted(
        {v[0] if isinstance(v, tuple) else v for by_key in _alts.values() for vs in by_key.values() for v in vs}
        | {v[1] for by_key in _alts.get("colour", {}).values() for v in by_key if isinstance(v, tuple)})
_TABLES["de"]["words"] += [stem + end for stem in _ALTERNATIVES["de"]["colour"]["purple"] for end in ("e", "er", "es", "en")]


class _Picker:
    """Chooses a synonym for each slot of one caption, reproducibly from ``variant``."""

    def __init__(self, language: str, variant: int | None):
        import numpy as np

        self.alternatives = _ALTERNATIVES.get(language, {}) if variant is not None else {}
        self.rng = np.random.default_rng([int(variant or 0), LANGUAGES.index(language)])

    def __call__(self, category: str, key: str, primary):
        options = [primary, *self.alternatives.get(category, {}).get(key, [])]
        return options[int(self.rng.integers(len(options)))] if len(options) > 1 else primary


class _ScriptedPicker(_Picker):
    """Follows a given sequence of choices (then the first option), recording how many each slot had."""

    def __init__(self, language: str, script: tuple[int, ...]):
        self.alternatives = _ALTERNATIVES.get(language, {})
        self.script, self.sizes = script, []

    def __call__(self, category: str, key: str, primary):
        options = [primary, *self.alternatives.get(category, {}).get(key, [])]
        if len(options) == 1:
            return primary
        k = len(self.sizes)
        self.sizes.append(len(options))
        return options[self.script[k] if k < len(self.script) else 0]


def _check_language(language: str) -> dict:
    try:
        return _TABLES[language]
    except KeyError:
        raise ValueError(
            f"language {language!r} has no lexicon; known: {', '.join(LANGUAGES)}"
        ) from None


# --------------------------------------------------------------------------- noun phrases

def _np_en(m: Mention, pick: _Picker) -> str:
    words = [pick(cat, key, key) for cat, key in (("size", m.size), ("colour", m.colour)) if key]
    words.append(pick("shape", m.shape, m.shape))
    art = "an" if words[0][0] in "aeiou" else "a"
    phrase = f"{art} {' '.join(words)}"
    return f"{phrase} {pick('position', m.position, _EN['position'][m.position])}" if m.position else phrase


def _np_de(m: Mention, case: str, pick: _Picker) -> str:
    noun, gender = pick("shape", m.shape, _DE_NOUNS[m.shape])
    art, end = _DE_INDEF[case][gender]
    colour_phrase = pick("colour_phrase", m.colour, "") if m.colour else ""  # "" = an inflected adjective
    attributive = (("size", m.size),) + ((("colour", m.colour),) if not colour_phrase else ())
    adjs = [pick(cat, key, _DE_ADJ[key]) + end for cat, key in attributive if key]
    phrase = " ".join([art, *adjs, noun, *([colour_phrase] if colour_phrase else [])])
    return f"{phrase} {pick('position', m.position, _DE['position'][m.position])}" if m.position else phrase


def _np_fr(m: Mention, pick: _Picker) -> str:
    noun, gender = pick("shape", m.shape, _FR_NOUNS[m.shape])
    g = 0 if gender == "m" else 1
    words = ["un" if g == 0 else "une"]
    if m.size:
        words.append(pick("size", m.size, _FR_ADJ[m.size])[g])
    words.append(noun)
    if m.colour:
        words.append(pick("colour", m.colour, _FR_ADJ[m.colour])[g])
    if m.position:
        words.append(pick("position", m.position, _FR["position"][m.position]))
    return " ".join(words)


def _np_es(m: Mention, pick: _Picker) -> str:
    noun, gender = pick("shape", m.shape, _ES_NOUNS[m.shape])
    g = 0 if gender == "m" else 1
    words = ["un" if g == 0 else "una", noun]
    words += [pick(cat, key, _ES_ADJ[key])[g] for cat, key in (("colour", m.colour), ("size", m.size)) if key]
    if m.position:
        words.append(pick("position", m.position, _ES["position"][m.position]))
    return " ".join(words)


def _np_ru(m: Mention, pick: _Picker) -> str:
    noun, gender = pick("shape", m.shape, _RU_NOUNS[m.shape])
    g = 0 if gender == "m" else 1
    words = [pick(cat, key, _RU_ADJ[key])[g] for cat, key in (("size", m.size), ("colour", m.colour)) if key]
    words.append(noun)
    if m.position:
        words.append(pick("position", m.position, _RU["position"][m.position]))
    return " ".join(words)


def _np_sw(m: Mention, pick: _Picker) -> str:
    noun, cls = pick("shape", m.shape, _SW_NOUNS[m.shape])
    words = [noun] + [_SW_ADJ[cls][a] for a in (m.size, m.colour) if a]
    if m.position:
        words.append(pick("position", m.position, _SW["position"][m.position]))
    return " ".join(words)


def _clause_zh(m: Mention, second: bool, pick: _Picker) -> str:
    noun, clf = pick("shape", m.shape, _ZH_NOUNS[m.shape])
    np_ = "一" + clf + (_ZH["colour"][m.colour] + "的" if m.colour else "")
    np_ += (_ZH["size"][m.size] if m.size else "") + noun
    if m.position:
        return pick("position", m.position, _ZH["position"][m.position]) + "有" + np_
    return ("还有" if second else "有") + np_


def _clause_ja(m: Mention, pick: _Picker) -> str:
    np_ = (_JA["size"][m.size] if m.size else "") + (_JA["colour_attr"][m.colour] if m.colour else "")
    np_ += pick("shape", m.shape, _JA["shape"][m.shape])
    return (pick("position", m.position, _JA["position"][m.position]) + "に" if m.position else "") + np_


def _clause_th(m: Mention, pick: _Picker) -> str:
    text = "มี" + pick("shape", m.shape, _TH["shape"][m.shape])
    text += (_TH["colour"][m.colour] if m.colour else "") + (_TH["size"][m.size] if m.size else "")
    return text + ("อยู่" + pick("position", m.position, _TH["position"][m.position]) if m.position else "")


# --------------------------------------------------------------------------- public API

def caption(language: str, mentions: list[Mention] | tuple[Mention, ...], template: int = 0,
            count: int | None = None, variant: int | None = None) -> str:
    """Realise one caption mentioning 1 or 2 objects with caption template ``template``.

    ``count``: the number of objects in the image, stated by a count frame (template index modulo
    :data:`N_COUNT_TEMPLATES`), or None. ``variant``: seeds the choice of synonyms (None: the
    citation forms only); parallel captions share everything but their variants.
    """
    table = _check_language(language)
    if not 1 <= len(mentions) <= 2:
        raise ValueError(f"a caption mentions 1 or 2 objects, not {len(mentions)}")
    if not 0 <= template < N_TEMPLATES:
        raise ValueError(f"template must be in 0..{N_TEMPLATES - 1}, not {template}")
    if count is not None and count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS} or None, not {count}")
    return _realise(language, mentions, template, count, _Picker(language, variant))


def realisations(language: str, mentions: list[Mention] | tuple[Mention, ...], template: int = 0,
                 count: int | None = None) -> set[str]:
    """Every text :func:`caption` can write for this content (over all synonym choices)."""
    done, todo = set(), [()]
    while todo:
        script = todo.pop()
        pick = _ScriptedPicker(language, script)
        text = _realise(language, mentions, template, count, pick)
        if len(pick.sizes) == len(script):  # every slot chosen
            done.add(text)
        else:  # branch on the first slot the script leaves open
            todo.extend(script + (c,) for c in range(pick.sizes[len(script)]))
    return done


def _realise(language: str, mentions, template: int, count: int | None, pick: _Picker) -> str:
    table = _TABLES[language]
    if language == "en":
        body = _EN["join"].join(_np_en(m, pick) for m in mentions)
    elif language == "de":
        case = "nom" if count is not None else _DE["template_case"][template]
        body = _DE["join"].join(_np_de(m, case, pick) for m in mentions)
    elif language in ("fr", "es", "ru", "sw"):
        np_fn = {"fr": _np_fr, "es": _np_es, "ru": _np_ru, "sw": _np_sw}[language]
        body = table["join"].join(np_fn(m, pick) for m in mentions)
    elif language == "zh":
        body = "，".join(_clause_zh(m, i > 0, pick) for i, m in enumerate(mentions))
    elif language == "ja":
        body = "があり、".join(_clause_ja(m, pick) for m in mentions) + "があります"
    elif language == "th":
        body = " และ".join(_clause_th(m, pick) for m in mentions)
    else:  # pragma: no cover - guarded by _check_language
        raise AssertionError(language)
    if count is not None:
        frame = table["count_templates"][template % N_COUNT_TEMPLATES]
        return frame.format(n=table["count_phrases"][count], x=body)
    return table["templates"][template].format(x=body)


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
    """A VQA question. colour/size questions ask about the object at ``position``;
    position questions about the (unique) object with ``colour`` and ``shape``."""
    table = _check_language(language)
    template = table["questions"][kind]
    if kind in ("colour", "size"):
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
    if kind == "size":
        # caption words: the table's own size words, or (inflecting languages) the caption forms
        # that agree with the question's "object"
        words = table["size_answers"] if "size_answers" in table else table["size"]
        return [words[s] for s in SIZES]
    if kind == "count":
        return [table["counts"][n] for n in COUNTS]
    if kind == "position":
        return [table["position"][p] for p in POSITIONS]
    raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(QUESTION_KINDS)}")


def answer(language: str, kind: str, value) -> str:
    """The answer string for canonical ``value`` (a colour/size/position key or a count)."""
    keys = {"colour": COLOURS, "size": SIZES, "count": COUNTS, "position": POSITIONS}[kind]
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


def tokenizer_pieces(languages: Iterable[str]) -> list[str]:
    """The surface forms of all ``languages``, sorted and distinct: the pieces a toy tokenizer must keep whole."""
    return sorted({p for lang in languages for p in _surface_forms(lang)})


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
