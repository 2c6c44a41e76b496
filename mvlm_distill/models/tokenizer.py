"""The toy families' tokenizer: a Unigram vocabulary built directly from a lexicon.

``tokenizers``' Unigram *trainer* fails on a small synthetic lexicon (it fills the
vocabulary with whole captions when a script has no spaces, or shrinks it to
single characters when it has), so the vocabulary is written down instead:

* every lexicon surface form (all languages), split on whitespace, as a
  word-initial piece (``▁word``); forms written in a script without spaces
  between words (Han, kana, Thai, ...; see :func:`unspaced`) also as a
  word-internal piece (``word``), since they follow other words directly;
* every single character seen in the texts or the lexicon (and ``▁``), so that
  nothing but truly unseen characters becomes ``<unk>``.

Word pieces score -1 and single characters -4, so the Viterbi segmentation
prefers the fewest, longest lexicon pieces and falls back to characters.
Normalisation NFKC, pre-tokenisation Metaspace, post-processing
``<s> $A </s>`` (XLM-R's convention, ids below).

With ``vocab_size`` the vocabulary is *learnt* instead: a BPE model trained by
``tokenizers``' ``BpeTrainer`` on ``texts`` (the teacher's pretraining captions,
skewed towards the high-resource languages as XLM-R's and Gemma's training data
are), with the characters of ``pieces`` in its alphabet. Merges go to what is
frequent, so the scarce languages' words stay split into more, shorter pieces.
"""

from __future__ import annotations

import os
from pathlib import Path

#: special tokens and their ids (XLM-R's layout)
SPECIAL_TOKENS = {"bos": ("<s>", 0), "pad": ("<pad>", 1), "eos": ("</s>", 2), "unk": ("<unk>", 3)}
BOS_ID, PAD_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
WORD_SCORE = -1.0
CHAR_SCORE = -4.0
META = "\u2581"


UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN",
                    "HALFWIDTH", "IDEOGRAPHIC")


def unspaced(text: str) -> bool:
    """Whether ``text`` has a character of a script written without spaces between words."""
    import unicodedata

    return any(unicodedata.name(c, "").startswith(UNSPACED_SCRIPTS) for c in text)


def toy_vocabulary(texts: list[str], pieces: list[str]) -> list[tuple[str, float]]:
    """The (piece, score) list of the toy Unigram model, specials first, deterministic order."""
    import unicodedata

    def norm(s: str) -> str:
        return unicodedata.normalize("NFKC", s)

    vocab: dict[str, float] = {}
    for tok, _ in sorted(SPECIAL_TOKENS.values(), key=lambda x: x[1]):
        vocab[tok] = 0.0
    words = sorted({w for p in pieces for w in norm(p).split()})
    for w in words:
        vocab.setdefault(META + w, WORD_SCORE)
        if len(w) > 1 and unspaced(w):
            vocab.setdefault(w, WORD_SCORE)
    chars = sorted({c for s in list(texts) + list(pieces) for c in norm(s) if not c.isspace()})
    vocab.setdefault(META, CHAR_SCORE)
    for c in chars:
        vocab.setdefault(c, CHAR_SCORE)
    return list(vocab.items())


def build_toy_tokenizer(texts: list[str], pieces: list[str], out_dir: str | os.PathLike,
                        model_max_length: int = 64, vocab_size: int | None = None) -> None:
    """Write a ``PreTrainedTokenizerFast`` folder (``AutoTokenizer``/open_clip ``HFTokenizer`` loadable).

    ``vocab_size``: None writes the lexicon vocabulary down; a number trains BPE on ``texts``.
    """
    import unicodedata

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, processors, trainers
    from transformers import PreTrainedTokenizerFast

    pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    if vocab_size is None:
        tok = Tokenizer(models.Unigram(toy_vocabulary(texts, pieces), unk_id=UNK_ID, byte_fallback=False))
        tok.normalizer = normalizers.NFKC()
    else:
        specials = [t for t, _ in sorted(SPECIAL_TOKENS.values(), key=lambda x: x[1])]
        alphabet = sorted({c for s in list(texts) + list(pieces) for c in unicodedata.normalize("NFKC", s)
                           if not c.isspace()} | {META})
        if vocab_size < len(specials) + len(alphabet):
            raise ValueError(f"tokenizer vocab_size {vocab_size} is below its {len(specials) + len(alphabet)} "
                             "special tokens and characters")
        tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk"][0]))
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizer
        trainer = trainers.BpeTrainer(vocab_size=int(vocab_size), special_tokens=specials, initial_alphabet=alphabet,
                                      limit_alphabet=len(alphabet), show_progress=False)
        tok.train_from_iterator(list(texts), trainer=trainer)
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", BOS_ID), ("</s>", EOS_ID)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        cls_token="<s>", sep_token="</s>",
        model_max_length=model_max_length,
        padding_side="right", truncation_side="right",
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
