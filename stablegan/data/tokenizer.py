"""Word tokenisation of text-GAN corpora, equal to ``nltk.word_tokenize(line.lower())`` without
nltk or its downloaded data.

Texygen, RelGAN and TextGAN-PyTorch prepare COCO captions and EMNLP News by lower-casing each line
and splitting it with ``nltk.word_tokenize``. That function runs two stages:

1. the Punkt sentence splitter (``sent_tokenize``), which needs the ``punkt`` model files, then
2. ``NLTKWordTokenizer`` (an improved Penn Treebank tokenizer: a fixed sequence of regular
   expressions for quotes, punctuation, brackets and clitics) on every sentence.

:func:`treebank_tokenize` is a reimplementation of stage 2: the same rules, applied in the same
order, written against the standard :mod:`re` module (nltk 3.10 routes them through the third-party
``regex`` engine; where the two engines differ, the patterns here spell out what ``regex`` does:
U+001C..U+001F are not whitespace).

:func:`split_sentences` reimplements stage 1 for lower-cased text. Punkt's decision whether a
period ends a sentence depends on a trained model (abbreviation list, orthographic statistics,
collocations); here the model is replaced by conservative rules: on lower-case text a line is
split where the real model splits it, and kept whole where that depends on what the model has
learned (see :func:`split_sentences`). After word tokenisation the only visible
effect of a split is that a sentence-final period in the middle of a line becomes its own token:
``"a dog. a cat"`` gives ``[..., 'dog', '.', 'a', 'cat']`` (full ``word_tokenize``) where
``word_tokenize(..., preserve_line=True)`` keeps ``'dog.'``.

Measured on the project's shared corpora (``tests/test_text_data.py`` checks every line): full
``word_tokenize`` and ``preserve_line=True`` differ on 5 of the 10,000 COCO training lines
(``"two men at on an airport tarmac. ."``, ``"... breakfast rooms. lot of stuff ..."``,
``"... on display. ."``, ``"... do not use. sorry!"``, ``"a view of sky from airplane. above
clouds"``), on 5 of the 10,000 COCO test lines (four ``"word. next"``; and ``'... labeled "experts
only!". '``, where the sentence after ``!`` starts with the quote, which becomes an opening
quote token instead of a closing one) and on none of the Yelp dev lines (already tokenised).
Mid-line periods that stay attached, as in full ``word_tokenize``: ``u.s.``, ``p.m.``, ``dr.``,
``11:59.``, ``b.`` (an initial before a lower-case word), ellipses; lone ``.`` tokens are split
off either way.

Against nltk itself (Punkt without a trained model, given :data:`ABBREVIATIONS`, which is what
:func:`split_sentences` implements) the output is identical on every corpus line and on random
strings of ASCII, Latin letters, curly quotes and dashes. Known differences of the ``re`` engine
from ``regex``: combining marks, join controls and non-decimal digits such as ``²`` count as word
characters differently next to apostrophes and in initials; such text is tokenised slightly
differently from nltk.
"""

from __future__ import annotations

import re
import string

__all__ = ["ABBREVIATIONS", "split_sentences", "tokenize", "treebank_tokenize"]

# Whitespace as nltk's regex engine sees it: Python's \s minus the separators U+001C..U+001F.
_WS = r"[^\S\x1c-\x1f]"
_NOT_WS = r"[\S\x1c-\x1f]"

Rule = tuple["re.Pattern[str]", str]


def _rule(pattern: str, replacement: str) -> Rule:
    """A compiled substitution ``pattern -> replacement``."""
    return re.compile(pattern), replacement


# ---------------------------------------------------------------------------------------------
# Stage 2: the Treebank word tokenizer (NLTKWordTokenizer)
# ---------------------------------------------------------------------------------------------

# Characters that may follow a sentence-final period and still belong to its sentence.
_CLOSERS = "\\]\\)}>\"'"
_UNICODE_CLOSING_QUOTES = "»”’"

_OPENING_QUOTES: list[Rule] = [
    _rule(r"([«“‘„]|`+)", r" \1 "),  # unicode opening quotes, runs of backticks
    _rule(r'^"', "``"),  # a double quote that starts the text opens a quotation
    _rule(r"(``)", r" \1 "),
    _rule(r"([ (\[{<])(\"|'')", r"\1 `` "),  # " or '' after a space or an opening bracket
    # a single quote opening a word, unless it is a clitic ('re 've 'll 'm 't 's 'd 'n)
    _rule(r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 "),
]

_PUNCTUATION: list[Rule] = [
    # the period that ends the text, with any closing brackets/quotes (and spaces) after it
    _rule(rf"([^.])(\.)([{_CLOSERS}{_UNICODE_CLOSING_QUOTES} ]*){_WS}*$", r"\1 \2 \3 "),
    _rule(r"([:,])([^\d])", r" \1 \2"),  # colons and commas, except inside numbers (3,000 11:59)
    _rule(r"([:,])$", r" \1 "),
    _rule(r"\.{2,}", r" \g<0> "),  # ellipsis
    _rule(r"[;@#$%&]", r" \g<0> "),
    _rule(r"[\u2012-\u2015]", r" \g<0> "),  # figure dash, en dash, em dash, horizontal bar
    # nltk's older final-period rule, kept for identical spacing in every corner case
    _rule(rf"([^.])(\.)([{_CLOSERS}]*){_WS}*$", r"\1 \2\3 "),
    _rule(r"[?!]", r" \g<0> "),
    _rule(r"([^'])' ", r"\1 ' "),  # a single quote that closes a word
    _rule(r"\*", r" \g<0> "),
    _rule(r"[\]\[(){}<>]", r" \g<0> "),  # brackets
    _rule(r"--", r" -- "),  # double dash
]

_CLOSING_QUOTES: list[Rule] = [
    _rule(r"([»”’])", r" \1 "),
    _rule(r"''", " '' "),
    _rule(r'"', " '' "),  # every double quote left is a closing one
    _rule(rf"{_WS}+", " "),
    # clitics at the end of a word: 's 'm 'd and a bare possessive ', then 'll 're 've n't
    _rule(r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
    _rule(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
]

# Words split in two (Robert MacIntyre's list): "cannot" -> "can not", "gonna" -> "gon na", ...
# nltk compiles these with the standard re module, so \b and \s are re's.
_SPLIT_WORDS = [("can", "not"), ("d", "'ye"), ("gim", "me"), ("gon", "na"), ("got", "ta"),
                ("lem", "me"), ("more", "'n")]
_CONTRACTIONS: list[Rule] = [
    *(_rule(rf"(?i)\b({a})({b})\b", r" \1 \2 ") for a, b in _SPLIT_WORDS),
    _rule(r"(?i)\b(wan)(na)(?=\s)", r" \1 \2 "),
    _rule(r"(?i) ('t)(is)\b", r" \1 \2 "),  # 'tis, 'twas
    _rule(r"(?i) ('t)(was)\b", r" \1 \2 "),
]


def _apply(rules: list[Rule], text: str) -> str:
    """``text`` after every substitution of ``rules``, in order."""
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def treebank_tokenize(text: str) -> list[str]:
    """Tokens of one sentence, identical to ``nltk.tokenize.NLTKWordTokenizer().tokenize(text)``.

    Double quotes become ``````/``''``, punctuation and brackets are split off, clitics (``'s``,
    ``n't``, ``'ll`` ...) become separate tokens, a period is split off only at the end of the
    text. Case is kept.
    """
    text = _apply(_OPENING_QUOTES, text)
    text = _apply(_PUNCTUATION, text)
    text = _apply(_CLOSING_QUOTES, " " + text + " ")
    text = _apply(_CONTRACTIONS, text)
    return text.split()


# ---------------------------------------------------------------------------------------------
# Stage 1: Punkt sentence boundaries, with conservative rules in place of the trained model
# ---------------------------------------------------------------------------------------------

#: Abbreviations (without their final period) after which a period never ends a sentence, in
#: addition to every token with an inner period (``u.s.``, ``e.g.``, ``p.m.``, ``3.5.``). The real
#: English Punkt model knows more; a period it would treat as a sentence end but this list does
#: not is kept attached (``preserve_line`` behaviour), never split wrongly.
ABBREVIATIONS: frozenset[str] = frozenset(
    "mr mrs ms dr st jr sr vs etc inc ltd co corp mt ft".split()
)

# Characters that cannot be part of a word for Punkt (its "non-word" characters).
_NON_WORD = r"""(?:[)";}\]*:@'({\[‘’“”«»?!])"""
_MULTI_CHAR = rf"(?:-{{2,}}|\.{{2,}}|(?:\.{_WS}){{2,}}\.)"  # dash runs, ellipses, ". . ."
_WORD_START = r"""[^(\"`{\[:;&#*@)}\]\-,]"""
_PUNKT_WORD = re.compile(
    rf"({_MULTI_CHAR}"
    rf"|(?={_WORD_START}){_NOT_WS}+?"  # a word: up to whitespace, the end, punctuation ...
    rf"(?={_WS}|$|{_NON_WORD}|{_MULTI_CHAR}|,(?=$|{_WS}|{_NON_WORD}|{_MULTI_CHAR}))"  # or ", "
    rf"|{_NOT_WS})"
)
# A possible sentence end: . ? or ! followed by punctuation, or by whitespace and a token.
_END_CANDIDATE = re.compile(
    rf"[.?!](?=(?P<after>{_NON_WORD}|{_WS}+(?P<next>{_NOT_WS}+)))"
)
# Closing quotes/brackets after a sentence end, moved onto the sentence they close.
_REALIGN = re.compile(rf"""["')\]}}‘’“”«»]+?(?:{_WS}+|(?=--)|$)""", re.MULTILINE)
_ELLIPSIS = re.compile(r"\.\.+$")
_NUMBER = re.compile(r"^-?[.,]?\d[\d,.-]*\.?$")
_INITIAL = re.compile(r"[^\W\d]\.$")
_NOT_SENTENCE_STARTS = (";", ":", ",", ".", "!", "?")


def _is_abbreviation(word: str) -> bool:
    """Whether ``word`` (lower case, final period removed) is an abbreviation."""
    return "." in word or word in ABBREVIATIONS or word.split("-")[-1] in ABBREVIATIONS


def _ends_sentence(token: str, following: str) -> bool:
    """Punkt's verdict on a sentence end after ``token`` (a Punkt word) before ``following``.

    "." "?" "!" always end a sentence, ellipses and abbreviations never do (in lower-case text
    the real model can only overturn that for a capitalised next word). Any other word ending in
    a period ends one, except an initial (``b.``) or a number (``59.``) before a lower-case word
    or punctuation, which Punkt's orthographic heuristic reads as sentence-internal.
    """
    if token in (".", "?", "!"):
        return True
    if _ELLIPSIS.match(token) or not token.endswith(".") or token.endswith(".."):
        return False
    if _is_abbreviation(token[:-1].lower()):
        return False
    if _INITIAL.match(token) or _NUMBER.match(token.lower()):
        return not (following in _NOT_SENTENCE_STARTS or following[0].islower())
    return True


def _context_has_break(context: str) -> bool:
    """Whether a candidate's context (previous word, end mark, what follows) holds a break."""
    tokens = [t for line in context.split("\n") if line.strip() for t in _PUNKT_WORD.findall(line)]
    return any(_ends_sentence(a, b) for a, b in zip(tokens, tokens[1:]))


def _last_ascii_space(text: str) -> int:
    """Index of the last ASCII whitespace character in ``text``, 0 when there is none."""
    for i in range(len(text) - 1, -1, -1):
        if text[i] in string.whitespace:
            return i
    return 0


def _candidates(text: str) -> list[tuple[re.Match[str], str]]:
    """Punkt's candidate sentence ends with their contexts; of several end marks not separated by
    whitespace (``"wow?!"``) only the last is a candidate."""
    found: list[tuple[re.Match[str], str]] = []
    prev: re.Match[str] | None = None
    prev_start = prev_stop = 0
    for m in _END_CANDIDATE.finditer(text):
        space = _last_ascii_space(text[prev_stop : m.start()])
        start = space + prev_stop + 1 if space else prev_start
        if prev is not None and prev_stop <= start:
            found.append((prev, text[prev_start:prev_stop] + prev.group() + prev.group("after")))
        prev, prev_start, prev_stop = m, start, m.start()
    if prev is not None:
        found.append((prev, text[prev_start:prev_stop] + prev.group() + prev.group("after")))
    return found


def split_sentences(text: str) -> list[str]:
    """Punkt's sentences of (lower-case) ``text``, with the trained model replaced by rules.

    Candidate ends, contexts and the realignment of closing quotes/brackets follow nltk's
    ``PunktSentenceTokenizer``; the decision uses :data:`ABBREVIATIONS` (plus every word with an
    inner period) as the abbreviation list and an empty orthographic model (see
    :func:`_ends_sentence`). On lower-case text the real English model differs only where it
    knows an abbreviation this list lacks, a learned collocation (a period it treats as
    sentence-internal between two given words), or a lower-case word that it has seen starting
    sentences but never capitalised, after an initial or a number.
    """
    slices: list[tuple[int, int]] = []
    last = 0
    for m, context in _candidates(text):
        if _context_has_break(context):
            slices.append((last, m.end()))
            last = m.start("next") if m.group("next") else m.end()
    slices.append((last, len(text.rstrip())))
    sentences: list[str] = []
    shift = 0
    for i, (start, stop) in enumerate(slices):
        start += shift
        if i + 1 < len(slices):
            nxt = slices[i + 1]
            closing = _REALIGN.match(text[nxt[0] : nxt[1]])
            if closing:
                sentences.append(text[start : nxt[0] + len(closing.group(0).rstrip())])
                shift = closing.end()
                continue
            shift = 0
        if text[start:stop]:
            sentences.append(text[start:stop])
    return sentences


def tokenize(line: str) -> list[str]:
    """Lower-cased word tokens of ``line``: ``nltk.word_tokenize(line.lower())`` without nltk.

    Sentences are split by :func:`split_sentences` and each is tokenised by
    :func:`treebank_tokenize`; see the module docstring for how this compares with nltk's
    ``word_tokenize`` with and without ``preserve_line``.
    """
    text = line.lower()
    return [tok for sentence in split_sentences(text) for tok in treebank_tokenize(sentence)]
