"""The embedded synthetic benchmark: determinism, lexicon coverage, VQA, ceiling, subsets (data.corpus.select_by_language)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mvlm_distill.data import lexicon
from mvlm_distill.data.corpus import select_by_language
from mvlm_distill.data.formats import read_benchmark
from mvlm_distill.definitions import metric_values
from mvlm_distill.data.lexicon import COLOURS, LANGUAGES, POSITIONS, QUESTION_KINDS, SHAPES, SIZES, Mention
from mvlm_distill.data.synthetic import (
    CAPTION_DETAIL,
    DEFAULT_N_IMAGES,
    PARTIAL_DETAIL,
    generate_benchmark,
    caption_likelihood,
    consistency_oracle,
    oracle_ceiling,
    read_scene_records,
    swapped_attribute_captions,
    vqa_prompt,
)

SMALL = {"train": 24, "val": 6, "test": 30}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "bench"
    meta = generate_benchmark(root, seed=3, n_images=SMALL)
    return root, meta, read_benchmark(root, check_images=True)


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path):
    sizes = {"train": 5, "test": 4}
    generate_benchmark(tmp_path / "a", seed=7, n_images=sizes)
    generate_benchmark(tmp_path / "b", seed=7, n_images=sizes)
    generate_benchmark(tmp_path / "c", seed=8, n_images=sizes)
    a, b, c = (_all_files(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) == 5 + 4 + 7  # images + images/captions/vqa/meta/scenes/mentions/questions
    assert a.keys() == c.keys()
    assert a["captions.parquet"] != c["captions.parquet"]
    assert a["images/train-00000.png"] != c["images/train-00000.png"]
    assert b"time" not in a["meta.json"] and b"date" not in a["meta.json"]


def test_split_streams_are_independent(tmp_path):
    generate_benchmark(tmp_path / "a", seed=1, n_images={"train": 3, "test": 4})
    generate_benchmark(tmp_path / "b", seed=1, n_images={"train": 9, "test": 4})
    for name in ("images/test-00000.png", "images/test-00003.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_every_language_in_every_split(small):
    _, meta, bench = small
    assert meta["languages"] == list(LANGUAGES)
    assert bench.languages == list(LANGUAGES)
    for split in SMALL:
        assert set(bench.split_captions(split)["language"]) == set(LANGUAGES)
    assert set(bench.vqa["language"]) == set(LANGUAGES)


def test_paraphrases_and_parallel_ids(small):
    _, _, bench = small
    caps = bench.captions
    per = caps.groupby(["image_id", "language"]).size()
    assert (per == 2).all()
    assert len(per) == sum(SMALL.values()) * len(LANGUAGES)
    # one caption per language for each parallel_id, and it belongs to one image
    by_pid = caps.groupby("parallel_id")
    assert (by_pid["language"].nunique() == len(LANGUAGES)).all()
    assert (by_pid.size() == len(LANGUAGES)).all()
    assert (by_pid["image_id"].nunique() == 1).all()
    row = caps.iloc[0]
    assert row["caption_id"] == f"{row['image_id']}-{row['language']}-0"
    assert row["parallel_id"] == f"{row['image_id']}-0"


def test_images_are_32px_rgb_png(small):
    root, _, bench = small
    from PIL import Image

    with Image.open(bench.image_path(bench.images["image_id"][0])) as im:
        assert im.format == "PNG" and im.size == (32, 32) and im.mode == "RGB"


def test_scene_records_match_captions(small):
    root, _, bench = small
    rec = read_scene_records(root)
    scenes, mentions = rec["scenes"], rec["mentions"]
    counts = scenes.groupby("image_id").size()
    assert counts.between(1, 3).all() and set(counts.index) == set(bench.images["image_id"])
    assert not scenes.duplicated(["image_id", "position"]).any()
    assert not scenes.duplicated(["image_id", "colour", "shape"]).any()
    # each caption is one way of writing exactly the recorded content (mentions, template, count)
    n_objects = scenes.groupby("image_id").size()
    text = bench.captions.set_index(["language", "parallel_id"])["text"]
    for pid, group in mentions.groupby("parallel_id"):
        ms = [Mention(r.shape, r.colour or None, r.size or None, r.position or None)
              for r in group.sort_values("mention").itertuples()]
        count = int(group["count"].iloc[0]) if group["count"].iloc[0] else None
        assert count in (None, n_objects[group["image_id"].iloc[0]])
        for lang in bench.languages:
            assert text[lang, pid] in lexicon.realisations(lang, ms, int(group["template"].iloc[0]), count)


def test_swapped_attribute_captions_describe_no_object_of_the_image(small):
    root, _, bench = small
    captions = bench.captions.sample(frac=1.0, random_state=0)  # any row order
    negatives = swapped_attribute_captions(root, captions, seed=0)
    assert negatives == swapped_attribute_captions(root, captions, seed=0) and len(negatives) == len(captions)
    rec = read_scene_records(root)
    objects = {image: {(r.shape, r.colour, r.size, r.position) for r in rows.itertuples()}
               for image, rows in rec["scenes"].groupby("image_id")}
    content = {pid: rows.sort_values("mention") for pid, rows in rec["mentions"].groupby("parallel_id")}
    swapped_any = 0
    for row, negative in zip(captions.itertuples(), negatives):
        rows = content[row.parallel_id]
        ms = [Mention(r.shape, r.colour or None, r.size or None, r.position or None) for r in rows.itertuples()]
        count = int(rows["count"].iloc[0]) if rows["count"].iloc[0] else None
        differing = [a for a in ("colour", "size", "position") if len(ms) == 2 and getattr(ms[0], a) != getattr(ms[1], a)]
        assert (negative is None) == (not differing), (row.text, negative)
        if negative is None:
            continue
        swapped_any += 1
        # one attribute swapped between the two objects, written in the caption's language ...
        matches = []
        for a in differing:
            swapped = [Mention(**{**vars(ms[0]), a: getattr(ms[1], a)}), Mention(**{**vars(ms[1]), a: getattr(ms[0], a)})]
            if negative in lexicon.realisations(row.language, swapped, int(rows["template"].iloc[0]), count):
                matches.append(swapped)
        assert len(matches) == 1, (row.text, negative)
        # ... so that at least one of the objects it describes is not in the image
        assert any((m.shape, m.colour, m.size, m.position) not in objects[row.image_id] for m in matches[0])
    assert swapped_any > len(captions) / 3


def test_every_caption_question_and_answer_is_in_the_lexicon(small):
    _, _, bench = small
    for lang, group in bench.captions.groupby("language"):
        for text in group["text"]:
            lexicon.segment(lang, text)  # raises if a piece is not a surface form
    for row in bench.vqa.itertuples():
        lexicon.segment(row.language, row.question)
        for cand in row.candidates:
            lexicon.segment(row.language, vqa_prompt(row.language, row.question, cand))


def test_lexicon_translates_every_word_in_every_language():
    for lang in LANGUAGES:
        forms = lexicon.surface_forms(lang)
        assert forms == sorted(set(forms)) and all(forms)
        for kind, keys in (("colour", COLOURS), ("size", SIZES), ("position", POSITIONS)):
            cands = lexicon.candidates(lang, kind)
            assert len(cands) == len(keys) == len(set(cands)), (lang, kind)
            for key in keys:
                assert lexicon.translation(lang, kind, key)
                assert lexicon.answer(lang, kind, key) in cands
        for shape in SHAPES:
            assert lexicon.translation(lang, "shape", shape)
        # each caption template with each attribute can be realised and segmented
        for template, shape, colour, size, pos in itertools.product(
            range(lexicon.N_TEMPLATES), SHAPES, (None, *COLOURS), (None, *SIZES), (None, "left")
        ):
            lexicon.segment(lang, lexicon.caption(lang, [Mention(shape, colour, size, pos)], template))


def test_grammar_spot_checks():
    red_small_diamond = [Mention("diamond", "red", "small", None)]
    assert lexicon.caption("de", red_small_diamond, 0) == "eine kleine rote Raute"
    assert lexicon.caption("de", [Mention("circle", "red", "small", None)], 1) == "es gibt einen kleinen roten Kreis"
    assert lexicon.caption("de", [Mention("square", "blue", None, None)], 2) == "ein Bild mit einem blauen Quadrat"
    assert lexicon.caption("fr", [Mention("star", "white", "small", "left")], 0) == "une petite étoile blanche à gauche"
    assert lexicon.caption("es", [Mention("star", "red", "small", None)], 0) == "una estrella roja pequeña"
    assert lexicon.caption("ru", [Mention("star", "blue", "large", None)], 0) == "большая синяя звезда"
    assert lexicon.caption("zh", [Mention("star", "red", None, None)], 0) == "有一颗红色的星星"
    assert lexicon.caption("sw", [Mention("cross", "red", "small", None)], 1) == "kuna msalaba mdogo mwekundu"
    assert lexicon.caption("sw", [Mention("circle", "red", "small", None)], 1) == "kuna duara ndogo nyekundu"
    assert lexicon.caption("en", [Mention("star", "orange", None, None)], 0) == "an orange star"
    assert lexicon.question("fr", "position", shape="star", colour="blue") == "où est l'étoile bleue ?"
    assert lexicon.question("sw", "position", shape="cross", colour="black") == "msalaba mweusi uko wapi?"
    assert lexicon.question("de", "position", shape="diamond", colour="green") == "wo ist die grüne Raute?"
    assert vqa_prompt("en", "how many objects are there?", "two") == "how many objects are there? two"
    assert vqa_prompt("zh", "图中有几个物体？", "两个") == "图中有几个物体？两个"


def test_vqa_templates_never_occur_in_captions(small):
    _, _, bench = small
    for lang in LANGUAGES:
        markers = lexicon.question_markers(lang)
        assert markers
        captions = list(bench.captions.loc[bench.captions["language"] == lang, "text"])
        # plus every single-object caption the templates can produce
        captions += [lexicon.caption(lang, [Mention(s, c, z, p)], t)
                     for t, s, c, z, p in itertools.product(range(lexicon.N_TEMPLATES), SHAPES,
                                                            (None, *COLOURS), (None, *SIZES), (None, *POSITIONS))]
        for marker in markers:
            hits = [c for c in captions if marker in c]
            assert not hits, (lang, marker, hits[:3])
        questions = set(bench.vqa.loc[bench.vqa["language"] == lang, "question"])
        assert not questions & set(captions)


def test_no_held_out_caption_text_in_train_or_the_distillation_corpus(tmp_path):
    # th and sw have the fewest synonyms: one-object contents recur often between splits
    generate_benchmark(tmp_path / "b", seed=1, n_images={"train": 400, "val": 40, "test": 120},
                       languages=["th", "sw"])
    bench = read_benchmark(tmp_path / "b")
    caps = bench.captions
    held_out = set(caps.loc[caps["split"].isin(["val", "test"]), "text"])
    train = caps[caps["split"] == "train"]
    assert not held_out & set(train["text"])
    corpus = select_by_language(train, {"th": 0.5, "sw": 0.2}, seed=0)
    assert len(corpus) and not held_out & set(corpus["text"])
    # the split really shares contents (so verbatim texts were possible and had to be avoided)
    mentions = read_scene_records(tmp_path / "b")["mentions"]
    content = mentions.groupby("parallel_id").agg(
        split=("split", "first"),
        key=("shape", lambda _: None)).drop(columns="key")
    cols = ["template", "count", "shape", "colour", "size", "position"]
    content["key"] = mentions.groupby("parallel_id")[cols].apply(lambda g: tuple(map(tuple, g.to_numpy())))
    held_keys = set(content.loc[content["split"] != "train", "key"])
    assert (content.loc[content["split"] == "train", "key"].isin(held_keys)).any()


def test_a_train_scene_whose_every_caption_is_held_out_is_drawn_again(tmp_path, monkeypatch):
    """A one-object scene has one French text per caption frame (8 in all): a test split that
    shows it often holds all of them, and a train image of it could only repeat a test caption."""
    import mvlm_distill.data.synthetic as synthetic

    lone = {"shape": "star", "colour": "white", "size": "large", "position": "bottom"}
    draw = synthetic._sample_scene
    monkeypatch.setattr(synthetic, "_sample_scene", lambda rng: [dict(lone)] if rng.random() < 0.5 else draw(rng))
    generate_benchmark(tmp_path / "b", seed=0, n_images={"train": 60, "test": 60}, languages=["fr"])
    caps = read_benchmark(tmp_path / "b").captions
    test_texts = set(caps.loc[caps["split"] == "test", "text"])
    mention = lexicon.Mention(**{k: lone[k] for k in ("shape", "colour", "size", "position")})
    every = set().union(*(lexicon.realisations("fr", [mention], t, c)
                          for t in range(lexicon.N_TEMPLATES) for c in (None, 1)))
    assert every <= test_texts  # the test split holds every caption of the lone scene
    scenes = read_scene_records(tmp_path / "b")["scenes"]
    train = scenes[scenes["split"] == "train"]
    assert train["image_id"].nunique() == 60
    lone_train = train.groupby("image_id").filter(lambda g: len(g) == 1 and g.iloc[0]["shape"] == "star"
                                                  and g.iloc[0]["colour"] == "white" and g.iloc[0]["size"] == "large"
                                                  and g.iloc[0]["position"] == "bottom")
    assert lone_train.empty
    assert not test_texts & set(caps.loc[caps["split"] == "train", "text"])


def test_vqa_asks_about_a_shifted_caption_less_split(tmp_path):
    generate_benchmark(tmp_path / "b", seed=2, n_images={"train": 20, "test": 20, "vqa": 20}, languages=["en", "sw"])
    bench = read_benchmark(tmp_path / "b", check_images=True)
    vqa_images = set(bench.images.loc[bench.images["split"] == "vqa", "image_id"])
    assert set(bench.vqa["image_id"]) == vqa_images and len(bench.vqa) == 20 * len(QUESTION_KINDS) * 2
    assert not set(bench.captions["image_id"]) & vqa_images
    assert bench.meta["vqa_splits"] == {"test": "vqa"}
    assert bench.evaluation_vqa("val", "en").empty  # no VQA split for val: none, never the test one

    def background_spread(split):  # tinted, graded backgrounds: the corners differ more in colour
        from PIL import Image
        files = bench.images.loc[bench.images["split"] == split, "file"]
        px = np.stack([np.asarray(Image.open(bench.root / f), dtype=float) for f in files])
        corners = px[:, [0, 0, -1, -1], [0, -1, 0, -1], :]
        return float(np.mean(corners.std(axis=(1, 2))))
    assert background_spread("vqa") > 1.5 * background_spread("test")
    # the VQA ceiling is computed on the vqa split's scenes: every question answerable
    assert oracle_ceiling(tmp_path / "b")["overall"]["vqa"]["acc@1"] == 1.0


def test_vqa_answers_follow_the_scenes(small):
    root, _, bench = small
    vqa = bench.vqa
    test_ids = set(bench.split_images("test")["image_id"])
    assert set(vqa["image_id"]) == test_ids
    assert all(a in c for a, c in zip(vqa["answer"], vqa["candidates"]))
    assert (vqa.groupby("parallel_id")["language"].nunique() == len(LANGUAGES)).all()
    assert set(vqa["question_id"].str.rsplit("-", n=1).str[-1]) == set(QUESTION_KINDS)
    rec = read_scene_records(root)
    scenes = rec["scenes"].set_index(["image_id", "object"])
    n_objects = rec["scenes"].groupby("image_id").size()
    for q in rec["questions"].itertuples():
        if q.kind == "count":
            assert int(q.answer_key) == n_objects[q.image_id]
        else:
            assert scenes.loc[(q.image_id, q.object), q.kind] == q.answer_key
    en = vqa[vqa["language"] == "en"].set_index("parallel_id")
    for q in rec["questions"].itertuples():
        key = int(q.answer_key) if q.kind == "count" else q.answer_key
        assert en.loc[q.parallel_id, "answer"] == lexicon.answer("en", q.kind, key)


def _hand_case():
    scenes = pd.DataFrame(
        [
            ("A", "test", 0, "circle", "red", "small", "left"),
            ("B", "test", 0, "circle", "red", "large", "right"),
            ("B", "test", 1, "square", "blue", "small", "top"),
            ("C", "test", 0, "square", "blue", "large", "left"),
            ("D", "test", 0, "circle", "red", "large", "left"),
            ("D", "test", 1, "star", "green", "small", "bottom"),
            ("T", "train", 0, "circle", "red", "small", "left"),
        ],
        columns=["image_id", "split", "object", "shape", "colour", "size", "position"],
    )
    m = [  # parallel_id, image_id, mention, shape, colour, size, position
        ("A-0", "A", 0, "circle", "", "", ""),            # A, B, D -> rank 3
        ("B-0", "B", 0, "circle", "red", "", ""),         # B only (needs both)
        ("B-0", "B", 1, "square", "blue", "", ""),
        ("C-0", "C", 0, "square", "", "", "left"),        # C only -> rank 1
        ("C-1", "C", 0, "square", "blue", "", ""),        # B, C -> rank 2
        ("D-0", "D", 0, "circle", "red", "", "left"),     # A, D -> rank 2
        ("T-0", "T", 0, "circle", "", "", ""),            # other split: ignored
    ]
    mentions = pd.DataFrame(m, columns=["parallel_id", "image_id", "mention", "shape", "colour", "size", "position"])
    mentions["split"] = np.where(mentions["image_id"] == "T", "train", "test")
    return scenes, mentions


def test_ceiling_hand_checked():
    scenes, mentions = _hand_case()
    c = consistency_oracle({"scenes": scenes, "mentions": mentions})
    t2i = c["overall"]["t2i"]  # ranks 3, 1, 1, 2, 2 (pessimistic ties)
    assert t2i["n_queries"] == 5
    assert t2i["R@1"] == pytest.approx(2 / 5)
    assert t2i["R@5"] == pytest.approx(1.0)
    assert t2i["MRR@10"] == pytest.approx((1 / 3 + 1 + 1 + 1 / 2 + 1 / 2) / 5, abs=1e-6)
    # i2t: A ties with the more specific D-0 ("red circle on the left") -> rank 2; B, C, D rank 1
    i2t = c["overall"]["i2t"]
    assert i2t["n_queries"] == 4
    assert i2t["R@1"] == pytest.approx(3 / 4)
    assert c["ties"] == "pessimistic" and c["split"] == "test"
    # per language from captions: two languages with the same content give the same numbers
    caps = pd.DataFrame(
        [(pid, img, lang) for pid, img in [("A-0", "A"), ("B-0", "B"), ("C-0", "C"), ("C-1", "C"), ("D-0", "D")]
         for lang in ("en", "sw")],
        columns=["parallel_id", "image_id", "language"],
    )
    caps["split"] = "test"
    c2 = consistency_oracle({"scenes": scenes, "mentions": mentions, "captions": caps})
    assert c2["by_language"]["sw"] == c2["by_language"]["en"] == {"t2i": t2i, "i2t": i2t}


def test_ceiling_needs_distinct_objects():
    scenes = pd.DataFrame(
        [("A", "test", 0, "circle", "red", "small", "left"),
         ("B", "test", 0, "circle", "red", "small", "left"),
         ("B", "test", 1, "circle", "blue", "small", "top")],
        columns=["image_id", "split", "object", "shape", "colour", "size", "position"],
    )
    mentions = pd.DataFrame(
        [("B-0", "B", "test", 0, "circle", "", "", ""), ("B-0", "B", "test", 1, "circle", "", "", ""),
         ("A-0", "A", "test", 0, "circle", "red", "", "")],
        columns=["parallel_id", "image_id", "split", "mention", "shape", "colour", "size", "position"],
    )
    c = consistency_oracle({"scenes": scenes, "mentions": mentions})
    # "a circle and a circle" fits B only; "a red circle" fits A and B
    assert c["overall"]["t2i"]["R@1"] == pytest.approx(0.5)


def test_default_ceiling_is_not_saturated(tmp_path):
    # each split has its own random streams: the default test split alone gives the default ceiling
    n = DEFAULT_N_IMAGES["test"]
    study = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    assert study["benchmarks"]["synthetic"]["n_images"] == DEFAULT_N_IMAGES  # the default study's sizes
    meta = generate_benchmark(tmp_path / "t", seed=0, n_images={"test": n})
    c = meta["ceiling"]
    t2i = c["overall"]["t2i"]
    # two of up to three objects named, every attribute: R@1 is capped below 1
    assert 0.75 < t2i["R@1"] < 0.95, t2i
    assert t2i["R@1"] < t2i["R@5"] <= t2i["R@10"] <= 1.0
    assert set(c["by_language"]) == set(LANGUAGES)
    assert t2i["n_queries"] == n * 2 * len(LANGUAGES)
    assert meta["generator"]["caption_detail"] == CAPTION_DETAIL
    stored = read_benchmark(tmp_path / "t").meta
    assert stored["ceiling"] == c == oracle_ceiling(tmp_path / "t")
    assert stored["consistency_oracle"] == consistency_oracle(tmp_path / "t")
    # every question is answered by its scene: the VQA ceiling is 1
    assert c["overall"]["vqa"]["acc@1"] == 1.0 and c["overall"]["vqa"]["n_queries"] == n * 4 * len(LANGUAGES)
    _ceiling_dominates_consistency(c, stored["consistency_oracle"])


def _ceiling_dominates_consistency(ceiling, consistency):
    """The likelihood ranking is at least as good as the logical-consistency one in every cell."""
    for task, metrics in consistency["overall"].items():
        for metric, value in metrics.items():
            if metric != "n_queries":
                assert ceiling["overall"][task][metric] >= value - 1e-9, (task, metric)


def test_likelihood_ranks_by_how_the_generator_writes_captions():
    # "a red circle" (one mention) can only come from a one-object image when every caption names two
    # objects of images that have two; with second = 0.5 it is twice as likely from a one-object image
    # as from a two-object one (1 vs 0.5 x 1/2), and 2-of-2 beats 2-of-3 (1/2 vs 1/6 per assignment)
    counts = np.array([[1, 1, 1], [0, 1, 1]])
    n_objects, n_mentions = np.array([1, 2, 3]), np.array([1, 2])
    always_two = caption_likelihood(counts, n_objects, n_mentions, second=1.0)
    assert always_two[0].tolist() == [1.0, 0.0, 0.0]
    assert always_two[1].tolist() == pytest.approx([0.0, 1 / 2, 1 / 6])
    half = caption_likelihood(counts, n_objects, n_mentions, second=0.5)
    assert half[0].tolist() == pytest.approx([1.0, 0.25, 0.5 / 3])


def test_ceiling_hand_checked_with_likelihood():
    scenes, mentions = _hand_case()
    # with second = 0.5: "a circle" is likelier from one-object A (1) than from B or D (0.5 x 1/2), so
    # rank 1, not 3; "a red circle on the left" from D (0.25) loses to A (1): rank 2; the rest rank 1
    c = oracle_ceiling({"scenes": scenes, "mentions": mentions}, caption_detail={**CAPTION_DETAIL, "second": 0.5})
    assert c["ties"] == "random (expected)" and c["ranking"] == "likelihood"
    assert c["overall"]["t2i"]["R@1"] == pytest.approx(4 / 5)
    assert c["overall"]["t2i"]["MRR@10"] == pytest.approx((4 + 1 / 2) / 5)
    _ceiling_dominates_consistency(c, consistency_oracle({"scenes": scenes, "mentions": mentions}))


def test_partial_captions_lower_the_ceiling(tmp_path):
    meta = generate_benchmark(tmp_path / "p", seed=0, n_images={"test": 500}, caption_detail=PARTIAL_DETAIL)
    t2i = meta["ceiling"]["overall"]["t2i"]
    assert 0.55 < t2i["R@1"] < 0.85, t2i
    assert 0.90 < t2i["R@10"] < 0.99, t2i
    _ceiling_dominates_consistency(meta["ceiling"], meta["consistency_oracle"])
    mentions = pd.read_csv(tmp_path / "p" / "mentions.csv", keep_default_na=False)
    assert (mentions["size"] == "").any() and (mentions["colour"] == "").any()
    with pytest.raises(ValueError, match="caption_detail"):
        generate_benchmark(tmp_path / "q", seed=0, n_images={"test": 2}, caption_detail={"colour": 1.5})


def test_select_by_language_nested_and_deterministic(small):
    _, _, bench = small
    train = bench.split_captions("train")
    n = train["image_id"].nunique()
    half = select_by_language(train, {"de": 0.5, "sw": 0.25}, seed=5)
    again = select_by_language(train, {"de": 0.5, "sw": 0.25}, seed=5)
    pd.testing.assert_frame_equal(half, again)
    assert set(half["language"]) == {"en", "de", "sw"}  # English defaults to 1.0, others dropped
    per = half.groupby("language")["image_id"].nunique()
    assert per["en"] == n and per["de"] == round(0.5 * n) and per["sw"] == round(0.25 * n)
    # all paraphrases of a chosen image are kept
    assert (half.groupby(["language", "image_id"]).size() == 2).all()
    de = lambda f, seed=5: set(select_by_language(train, {"de": f}, seed)["image_id"][lambda s: s.index.isin(
        train.index[train["language"] == "de"])])
    assert de(0.25) <= de(0.5) <= de(0.75) <= de(1.0)
    assert de(1.0) == set(train["image_id"])
    assert de(0.0) == set()
    # across languages under one seed: the smaller fraction's images are among the larger's
    sw_images = set(half.loc[half["language"] == "sw", "image_id"])
    assert sw_images <= set(half.loc[half["language"] == "de", "image_id"])
    assert de(0.5, seed=6) != de(0.5)
    no_en = select_by_language(train, {"en": 0.0, "ja": 1.0}, seed=0)
    assert set(no_en["language"]) == {"ja"}
    with pytest.raises(ValueError):
        select_by_language(train, {"de": 1.5}, seed=0)


def test_ceiling_is_reached_by_the_likelihood_with_random_tie_breaks_and_beaten_by_no_scorer(tmp_path):
    """The ceiling is an expectation: the generator's likelihood with random tie-breaks, scored by
    the study's own rank functions, reaches it; other scorers (ties charged pessimistically, the
    specificity tie-break, noisy likelihoods, logical consistency) do not beat it."""
    from mvlm_distill.data import synthetic
    from mvlm_distill.evaluate.retrieval import i2t_ranks, t2i_ranks

    meta = generate_benchmark(tmp_path / "c", seed=1, n_images={"test": 80})
    records = synthetic._records(tmp_path / "c")
    recs = synthetic._SplitRecords(records, "test")
    n_objects = recs.scenes.groupby("image_id").size().reindex(recs.image_ids).to_numpy()
    n_mentions = recs.mentions.groupby("parallel_id").size().reindex(recs.parallel_ids).to_numpy()
    likelihood = caption_likelihood(recs.counts, n_objects, n_mentions, CAPTION_DETAIL["second"])
    posterior = synthetic._posterior_rows(likelihood)
    rows = np.asarray(dict(recs.groups)["en"])
    owner = recs.owner[rows]
    ceiling = meta["ceiling"]["by_language"]["en"]
    assert meta["ceiling"]["ties"] == "random (expected)"
    rng = np.random.default_rng(0)
    jitter = 1e-12  # far below any gap between distinct likelihoods: it only orders the ties

    def scored(t2i_scores, i2t_scores):
        t2i = t2i_ranks(t2i_scores, owner)
        i2t = i2t_ranks(i2t_scores, owner)
        return {"t2i": {m: metric_values(t2i, m).mean() for m in ("R@1", "MRR@10")},
                "i2t": {m: metric_values(i2t, m).mean() for m in ("R@1", "MRR@10")}}

    def mean_of(trials, scorer):
        runs = [scorer() for _ in range(trials)]
        return {t: {m: np.mean([r[t][m] for r in runs]) for m in runs[0][t]} for t in runs[0]}

    lik, post = likelihood[rows], posterior[rows].T
    random_ties = mean_of(300, lambda: scored(lik + jitter * rng.random(lik.shape), post + jitter * rng.random(post.shape)))
    pessimistic = scored(lik, post)
    specificity = (recs.counts[rows] > 0).sum(axis=1)
    by_specificity = scored(lik, post - jitter * specificity[None, :])
    noisy = mean_of(30, lambda: scored(lik * np.exp(rng.normal(0, 0.3, lik.shape)), post * np.exp(rng.normal(0, 0.3, post.shape))))
    consistent = scored((recs.counts[rows] > 0).astype(float), (recs.counts[rows] > 0).T.astype(float))
    for task in ("t2i", "i2t"):
        for metric in ("R@1", "MRR@10"):
            assert random_ties[task][metric] == pytest.approx(ceiling[task][metric], abs=0.01), (task, metric)
            for name, other in (("pessimistic", pessimistic), ("specificity", by_specificity), ("noisy", noisy),
                                ("consistency", consistent)):
                assert other[task][metric] <= ceiling[task][metric] + 0.01, (name, task, metric)
    assert pessimistic["t2i"]["R@1"] < ceiling["t2i"]["R@1"]  # ties charged the worst rank: not the bound


def test_val_and_test_are_scored_with_their_own_vqa_split(tmp_path):
    """Design choices are made on vqa_val; test's VQA (vqa) is read only when evaluating test."""
    sizes = {"train": 20, "val": 12, "test": 12, "vqa_val": 10, "vqa": 10}
    generate_benchmark(tmp_path / "b", seed=2, n_images=sizes, languages=["en", "th"])
    bench = read_benchmark(tmp_path / "b")
    assert bench.meta["vqa_splits"] == {"val": "vqa_val", "test": "vqa"}
    split_of = dict(zip(bench.images["image_id"], bench.images["split"]))
    for split, vqa_split in bench.meta["vqa_splits"].items():
        rows = bench.evaluation_vqa(split, "th")
        assert len(rows) == 10 * len(QUESTION_KINDS) and {split_of[i] for i in rows["image_id"]} == {vqa_split}
    assert bench.evaluation_vqa("train", "th").empty
    assert not set(bench.captions["image_id"]) & set(bench.vqa["image_id"])
    # adding vqa_val leaves the captioned splits (what a teacher learns from) byte for byte
    generate_benchmark(tmp_path / "c", seed=2, n_images={k: v for k, v in sizes.items() if k != "vqa_val"},
                       languages=["en", "th"])
    other = read_benchmark(tmp_path / "c")
    assert other.captions.equals(bench.captions)
    for f in bench.images.loc[bench.images["split"].isin(["train", "val", "test", "vqa"]), "file"]:
        assert (bench.root / f).read_bytes() == (other.root / f).read_bytes()

