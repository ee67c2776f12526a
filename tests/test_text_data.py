"""Tests of stablegan.data.tokenizer: the tokenizer against nltk (hand cases, random strings and
every line of the shared COCO and Yelp files)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stablegan.data.tokenizer import ABBREVIATIONS, split_sentences, tokenize, treebank_tokenize

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _main_checkout(repo: Path) -> Path | None:
    """The main checkout of a git worktree (``.git`` is a file ``gitdir: <main>/.git/...``)."""
    dot_git = repo / ".git"
    if not dot_git.is_file():
        return None
    line = dot_git.read_text(encoding="utf-8").strip()
    if not line.startswith("gitdir:"):
        return None
    gitdir = Path(line.split(":", 1)[1].strip())
    common = gitdir / "commondir"
    git = (gitdir / common.read_text().strip()).resolve() if common.is_file() else gitdir
    return git.parent


def shared_data() -> Path | None:
    """``$STABLEGAN_SHARED_DATA``, else ``<repo>/../shared/data`` (for a worktree also beside
    its main checkout), else None."""
    env = os.environ.get("STABLEGAN_SHARED_DATA")
    roots = [Path(env)] if env else []
    for repo in (REPO, _main_checkout(REPO)):
        if repo is not None:
            roots.append(repo.parent / "shared" / "data")
    return next((r for r in roots if (r / "text").is_dir()), None)


def shared_file(rel: str) -> Path:
    """A file under the shared data folder; skips the test when it is absent."""
    root = shared_data()
    if root is None or not (root / rel).is_file():
        pytest.skip(f"shared data file {rel} not found (set STABLEGAN_SHARED_DATA)")
    return root / rel


def corpus_lines(path: Path, limit: int | None = None) -> list[str]:
    """The lines of a shared corpus file (as Texygen reads them, without the newline)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines[:limit] if limit else lines


@functools.lru_cache(maxsize=1)
def nltk_tools() -> tuple[Any, Any, Any]:
    """(preserve_line word_tokenize, NLTKWordTokenizer, untrained Punkt) or skip without nltk.

    The Punkt tokenizer has no trained model (none is installed); it is given the abbreviation
    rule of stablegan.data.tokenizer, so full word_tokenize = Punkt + NLTKWordTokenizer is what
    ``tokenize`` claims to reproduce."""
    nltk = pytest.importorskip("nltk")
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    class Abbreviations:
        def __contains__(self, word: object) -> bool:
            return isinstance(word, str) and ("." in word or word in ABBREVIATIONS)

    punkt = PunktSentenceTokenizer()
    punkt._params.abbrev_types = Abbreviations()  # type: ignore[assignment]

    def preserve_line(text: str) -> list[str]:
        return nltk.word_tokenize(text, preserve_line=True)

    return preserve_line, NLTKWordTokenizer(), punkt


def full_word_tokenize(line: str) -> list[str]:
    """nltk.word_tokenize(line.lower()) with the untrained Punkt of ``nltk_tools``."""
    _, words, punkt = nltk_tools()
    return [tok for s in punkt.tokenize(line.lower()) for tok in words.tokenize(s)]


# ---------------------------------------------------------------------------------------------
# tokenizer
# ---------------------------------------------------------------------------------------------

HAND_CASES = [
    'He said, "Don\'t go!" and left.',
    "``Quoted'' text and 'single quotes' here.",
    "I can't, won't, shouldn't; you're, we've, they'll, I'm, it's, she'd.",
    "cannot gonna gimme lemme wanna gotta 'tis 'twas more'n d'ye",
    "the dog (a big one) [really] {yes} <maybe> sat.",
    "wait... what?! no... . ok",
    "prices rose 3,000 to 1,234.56 at 11:59 on 3.5.2017, 50% of $20 & #1 @home",
    "see http://example.com/a-b?c=d&e=f or www.site.org/index.html.",
    "a well-known state-of-the-art x -- y - z \u2013 w \u2014 v",
    "\u201ccurly\u201d \u2018single\u2019 \u00abguillemets\u00bb \u201elow\u201d",
    "o'clock rock'n'roll students' books the 90's",
    "*stars* and ; semicolons : colons, commas,",
    "end with a quote.'",
    'end with a bracket.)',
]


@pytest.mark.parametrize("text", HAND_CASES)
def test_treebank_tokenize_equals_nltk_word_tokenizer(text: str) -> None:
    preserve_line, words, _ = nltk_tools()
    assert treebank_tokenize(text) == words.tokenize(text)
    assert treebank_tokenize(text.lower()) == preserve_line(text.lower())


@pytest.mark.parametrize("text", HAND_CASES + [
    "a dog. a cat", "u.s. air force. the end", "at 11:59. there", "amanda b. on this",
    "dr. wright is here. he left", "tarmac. .", 'labeled "experts only!". ', "i. the step",
    "no. 5 is it. (yes) ok", "what?! really. \"yes\" she said.",
])
def test_tokenize_equals_full_word_tokenize(text: str) -> None:
    assert tokenize(text) == full_word_tokenize(text)


def test_tokenize_known_outputs() -> None:
    assert tokenize("A dog. A cat") == ["a", "dog", ".", "a", "cat"]
    assert tokenize("A U.S. air force plane.") == ["a", "u.s.", "air", "force", "plane", "."]
    assert tokenize("I don't know (really).") == ["i", "do", "n't", "know", "(", "really", ")",
                                                   "."]
    assert tokenize('She said "hi".') == ["she", "said", "``", "hi", "''", "."]
    assert tokenize("clock at 11:59. there") == ["clock", "at", "11:59.", "there"]
    assert tokenize("  ") == []
    assert split_sentences("a dog. a cat") == ["a dog.", "a cat"]
    assert split_sentences("(one.) two") == ["(one.)", "two"]


# Characters on which the re and regex engines agree (see the tokenizer module docstring).
ALPHABET = st.sampled_from(
    list("aAbBcdegilmnorstv0159 \t'\"`.,:;!?()[]{}<>-*@#$%&_") + [
        "can", "not", "n't", "'s", "'ll", "'re", "wanna", "'tis", "dr", "u.s", "...", "--",
        ". ", "? ", '" ', "  ", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb",
        "\u201e", "\u2013", "\u2014", "\u00e9", "\u00df", "\xa0", "\x1c", "\n",
    ])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_random_strings_match_nltk(text: str) -> None:
    _, words, punkt = nltk_tools()
    assert treebank_tokenize(text) == words.tokenize(text)
    assert split_sentences(text.lower()) == punkt.tokenize(text.lower())


# Lines where full word_tokenize (sentence split first) differs from preserve_line=True.
SPLIT_LINES = {
    "coco/train.txt": {390, 1842, 1975, 3360, 8968},
    "coco/test.txt": {44, 1521, 2125, 7312, 9103},
    "yelp/sentiment.dev.text": set(),
}


@pytest.mark.parametrize("rel,limit", [("coco/train.txt", None), ("coco/test.txt", None),
                                       ("yelp/sentiment.dev.text", 5000)])
def test_tokenize_every_corpus_line(rel: str, limit: int | None) -> None:
    preserve_line, words, punkt = nltk_tools()
    lines = corpus_lines(shared_file(f"text/{rel}"), limit)
    assert len(lines) == (limit or 10000)
    differ = set()
    for i, line in enumerate(lines):
        ours, low = tokenize(line), line.lower()
        assert ours == [t for s in punkt.tokenize(low) for t in words.tokenize(s)], (i, line)
        if ours != preserve_line(low):
            differ.add(i)
            assert any(t.endswith(".") and len(t) > 1 for t in preserve_line(low)[:-1]) or (
                '!"' in low), (i, line)
    assert differ == SPLIT_LINES[rel]
