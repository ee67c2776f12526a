"""Tests of stablegan.data.tokenizer / text / news: the tokenizer against nltk (hand cases, random
strings and every line of the shared COCO and Yelp files), the vocabulary, TextSource sampling,
holdout and exact resume, every bad-input case, and the EMNLP News files (never the network)."""

from __future__ import annotations

import functools
import io
import json
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import shared_file
from hypothesis import given, settings
from hypothesis import strategies as st

from stablegan.config import DataConfig
from stablegan.data import SOURCES, build_data, news
from stablegan.data.text import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    TEXT_SOURCES,
    UNK,
    TextSource,
    Vocabulary,
    read_sentences,
)
from stablegan.data.tokenizer import ABBREVIATIONS, split_sentences, tokenize, treebank_tokenize
from stablegan.errors import ConfigError, DataError

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------




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


def data_cfg(path: Path | str | None = None, **extra: object) -> DataConfig:
    """A DataConfig with the text keys it does not declare yet set as attributes."""
    known: dict[str, object] = {"batch_size": 4}
    known.update({k: extra.pop(k) for k in list(extra) if k in DataConfig.__dataclass_fields__})
    cfg = DataConfig(name="text-file", path=str(path) if path is not None else None,
                     **known)  # type: ignore[arg-type]
    for key, value in extra.items():
        setattr(cfg, key, value)
    return cfg


def write(path: Path, content: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


TRAIN = [f"the {c} dog runs after {n} red balls ." for c in "abcdefghijklmnop" for n in (1, 2)]
TEST = ["a dog runs .", "the red ball .", "two dogs run after the cat ."]


def text_files(tmp_path: Path, train: list[str] | None = None,
               test: list[str] | None = None) -> tuple[Path, Path]:
    """A small train file (32 sentences) and test file."""
    tr = write(tmp_path / "train.txt", "\n".join(train or TRAIN) + "\n")
    te = write(tmp_path / "test.txt", "\n".join(test or TEST) + "\n")
    return tr, te


def source(tmp_path: Path, seed: int = 0, with_test: bool = True, **extra: object) -> TextSource:
    """A text-file source over ``text_files``."""
    tr, te = text_files(tmp_path)
    return TEXT_SOURCES["text-file"](
        data_cfg(tr, test_path=str(te) if with_test else None, **extra), seed)


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
@pytest.mark.slow
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
@pytest.mark.slow
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


# ---------------------------------------------------------------------------------------------
# vocabulary
# ---------------------------------------------------------------------------------------------


def test_vocabulary_specials_and_order() -> None:
    v = Vocabulary.build([["b", "a", "c"], ["a", "c"], ["a", "d"]])
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    assert v.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "c", "b", "d"]
    assert v.tokens[:4] == list(SPECIALS) and len(v) == 8
    assert v.id("a") == 4 and v.id("zzz") == UNK and v.token(6) == "b" and "c" in v
    assert Vocabulary.build([["a", "d"], ["a", "c"], ["c", "b", "a"]]) == v  # order-free
    assert Vocabulary.build([["a", "a", "b", "c"]], min_count=2).tokens[4:] == ["a"]
    assert Vocabulary.build([["a", "a", "b", "c"]], max_size=5).tokens[4:] == ["a"]
    assert v.unk_count([["a", "x", "y"], ["x"]]) == 3


def test_vocabulary_encode_decode() -> None:
    v = Vocabulary.build([["the", "dog"], ["a", "cat"]])
    ids = v.encode(["the", "cat", "zebra"], 6)
    assert ids == [v.id("the"), v.id("cat"), UNK, EOS, PAD, PAD]
    assert v.decode(ids) == ["the", "cat", "<unk>"]
    assert v.decode([BOS, v.id("a"), v.id("dog"), PAD, v.id("cat")]) == ["a", "dog"]
    assert v.decode_text(torch.tensor([v.id("a"), v.id("cat"), EOS, v.id("dog")])) == "a cat"
    assert v.encode([], 2) == [EOS, PAD]
    with pytest.raises(DataError, match="does not fit max_len 3"):
        v.encode(["the", "dog", "a"], 3)
    with pytest.raises(DataError, match="outside the vocabulary"):
        v.decode([len(v)])


def test_vocabulary_json_round_trip_and_errors() -> None:
    v = Vocabulary.build([["é", "x", "x"], ["y"]])
    data = json.loads(json.dumps(v.to_json()))
    assert Vocabulary.from_json(data) == v and Vocabulary.from_json(json.dumps(data)) == v
    assert Vocabulary.from_json(data).fingerprint == v.fingerprint
    assert Vocabulary.build([["x"]]).fingerprint != v.fingerprint
    for bad, match in [({"tokens": ["a"]}, "not a stablegan vocabulary"),
                       ({**data, "version": 99}, "unsupported vocabulary"),
                       ({**data, "tokens": "abc"}, "no 'tokens' list"),
                       ({**data, "tokens": ["a", "a"]}, "listed twice"),
                       ({**data, "tokens": ["<eos>"]}, "special token"),
                       ({**data, "tokens": [3]}, "not a non-empty string"),
                       ("{not json", "cannot be parsed")]:
        with pytest.raises(DataError, match=match):
            Vocabulary.from_json(bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="special token"):
        Vocabulary.build([["<pad>", "a"]])
    with pytest.raises(ConfigError):
        Vocabulary.build([["a"]], min_count=0)
    with pytest.raises(ConfigError):
        Vocabulary.build([["a"]], max_size=3)


TOKENS = st.text(alphabet="abcdefg.',-", min_size=1, max_size=4)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.lists(TOKENS, max_size=8), min_size=1, max_size=6), st.data())
@pytest.mark.slow
def test_vocabulary_round_trip(corpus: list[list[str]], data: st.DataObject) -> None:
    v = Vocabulary.build(corpus)
    assert Vocabulary.build(list(reversed(corpus))) == v
    known = [t for s in corpus for t in s]
    tokens = data.draw(st.lists(st.sampled_from(known), max_size=10)) if known else []
    max_len = len(tokens) + data.draw(st.integers(1, 4))
    ids = v.encode(tokens, max_len)
    assert len(ids) == max_len and v.decode(ids) == tokens


# ---------------------------------------------------------------------------------------------
# TextSource: shapes, holdout, determinism, resume
# ---------------------------------------------------------------------------------------------


def test_text_source_shapes_and_holdout_is_the_test_file(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    s = source(tmp_path)
    assert capsys.readouterr().err == ""  # nothing dropped: no summary
    assert s.task == "text" and s.name == "text-file" and s.size == len(TRAIN)
    longest = max(len(tokenize(line)) for line in TRAIN + TEST)
    assert s.max_len == longest + 1 and s.sample_shape == (s.max_len,)
    x = s.sample(4)
    assert x.dtype == torch.int64 and x.shape == (4, s.max_len)
    assert s.report["train_sentences"] == 32 and s.report["test_sentences"] == 3
    test_sentences = [tokenize(line) for line in TEST]
    assert s.sentences("holdout") == test_sentences
    assert s.sentences("train") == [tokenize(line) for line in TRAIN]
    held = s.reals(10, "holdout")
    assert held.dtype == torch.int64 and held.shape == (3, s.max_len)
    assert sorted(s.decode(held)) == sorted(" ".join(t) for t in test_sentences)
    assert torch.equal(s.reals(10, "holdout"), held)
    assert set(s.decode(s.reals(100, "train"))) == {" ".join(tokenize(t)) for t in TRAIN}
    assert "two" in s.vocab  # vocabulary from train + test


def test_text_source_without_test_file_holds_out_a_fraction(tmp_path: Path) -> None:
    s = source(tmp_path, with_test=False, holdout_fraction=0.25)
    train, held = s.sentences("train"), s.sentences("holdout")
    assert len(held) == 8 and len(train) == 24 == s.size
    assert sorted(map(tuple, train + held)) == sorted(tuple(tokenize(t)) for t in TRAIN)
    assert {tuple(t) for t in train}.isdisjoint(tuple(t) for t in held)
    assert {" ".join(t) for t in held} == set(s.decode(s.reals(100, "holdout")))


def test_text_source_sampling_is_deterministic_by_seed(tmp_path: Path) -> None:
    a, b, c = source(tmp_path, seed=1), source(tmp_path, seed=1), source(tmp_path, seed=2)
    batches_a = [a.sample(5) for _ in range(8)]
    assert all(torch.equal(x, b.sample(5)) for x in batches_a)
    assert not all(torch.equal(x, c.sample(5)) for x in batches_a)


def test_text_source_resumes_exactly(tmp_path: Path) -> None:
    a = source(tmp_path, seed=3)
    for _ in range(9):  # past an epoch boundary (32 items, batches of 5)
        a.sample(5)
    torch.save(a.state_dict(), tmp_path / "state.pt")
    expected = [a.sample(5) for _ in range(10)]
    b = source(tmp_path, seed=99)
    b.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert all(torch.equal(x, b.sample(5)) for x in expected)
    assert b.epoch == a.epoch


def test_resume_detects_a_changed_vocabulary_or_max_len(tmp_path: Path) -> None:
    state = source(tmp_path).state_dict()
    other = tmp_path / "other"
    other.mkdir()
    tr, te = text_files(other, train=[line.replace("red", "blue") for line in TRAIN])
    changed = TEXT_SOURCES["text-file"](data_cfg(tr, test_path=str(te)), 0)
    with pytest.raises(DataError, match="vocabulary of data 'text-file' differs") as err:
        changed.load_state_dict(state)
    assert "vocab_from" in (err.value.hint or "")
    longer = source(tmp_path, max_len=30)
    with pytest.raises(DataError, match="max_len 30"):
        longer.load_state_dict(state)
    state["name"] = "coco"
    with pytest.raises(DataError, match="saved for data 'coco'"):
        source(tmp_path).load_state_dict(state)


def test_text_source_max_items_and_explicit_vocab(tmp_path: Path) -> None:
    s = source(tmp_path, max_items=10)
    assert s.size == 10 and s.sentences("train") == [tokenize(t) for t in TRAIN[:10]]
    v = Vocabulary.build([["the", "dog"]])
    t = TextSource("mine", [["the", "dog"], ["the", "cat"]], 0, vocab=v, quiet=True)
    assert t.vocab is v and t.report["unk_tokens"] == 1 and t.report["unk_types"] == 1


def test_text_sources_plug_into_build_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    for name, factory in TEXT_SOURCES.items():
        monkeypatch.setitem(SOURCES, name, factory)
    tr, te = text_files(tmp_path)
    cfg = data_cfg(tr, test_path=str(te))
    assert build_data(cfg, 0).size == 32
    cfg.batch_size = 64
    with pytest.raises(DataError, match="fewer than the batch size 64"):
        build_data(cfg, 0)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


def test_missing_and_empty_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataError, match="training file not found: .*nope.txt") as err:
        TEXT_SOURCES["text-file"](data_cfg(missing), 0)
    assert err.value.hint
    tr, _ = text_files(tmp_path)
    with pytest.raises(DataError, match="test file not found: .*nope.txt"):
        TEXT_SOURCES["text-file"](data_cfg(tr, test_path=str(missing)), 0)
    with pytest.raises(DataError, match="is a folder"):
        TEXT_SOURCES["text-file"](data_cfg(tmp_path), 0)
    empty = write(tmp_path / "empty.txt", "")
    with pytest.raises(DataError, match=r"empty.txt holds no sentences \(it is empty\)"):
        TEXT_SOURCES["text-file"](data_cfg(empty), 0)
    blank = write(tmp_path / "blank.txt", "\n  \n\t\n")
    with pytest.raises(DataError, match=r"blank.txt holds no sentences \(all 3 lines are blank"):
        TEXT_SOURCES["text-file"](data_cfg(blank), 0)
    with pytest.raises(DataError, match="test file .*blank.txt holds no sentences"):
        TEXT_SOURCES["text-file"](data_cfg(tr, test_path=str(blank)), 0)
    with pytest.raises(ConfigError, match="needs data.path"):
        TEXT_SOURCES["text-file"](data_cfg(None), 0)


def test_blank_lines_are_skipped_and_reported(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    tr = write(tmp_path / "t.txt", "one dog .\n\n   \r\ntwo cats .\r\nthree birds\rfour\n\n")
    sentences, counts = read_sentences(tr)
    assert sentences == [["one", "dog", "."], ["two", "cats", "."], ["three", "birds"], ["four"]]
    assert counts == {"empty_lines": 3, "invalid_utf8_lines": 0}
    s = TEXT_SOURCES["text-file"](data_cfg(tr, holdout_fraction=0.0), 0)
    assert s.report["empty_lines"] == 3 and s.size == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data 'text-file'" in err and "skipped 3 blank lines" in err
    bom = write(tmp_path / "bom.txt", b"\xef\xbb\xbfhello world\n")
    assert read_sentences(bom)[0] == [["hello", "world"]]


def test_long_sentences_truncate_or_drop(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    s = source(tmp_path, max_len=5)
    assert s.report["truncated"] == 32 + 1 and s.report["dropped"] == 0
    assert all(len(t) == 4 for t in s.sentences("train"))
    assert s.sentences("holdout")[0] == ["a", "dog", "runs", "."]  # 4 tokens: fits
    assert all(row[-1] == EOS for row in s.sample(4))
    assert "truncated 33 sentences to 4 tokens" in capsys.readouterr().err
    with pytest.raises(DataError, match="all 32 training sentences are longer than") as err:
        source(tmp_path, max_len=5, text_long="drop")
    assert "data.text_long=truncate" in (err.value.hint or "")


def test_drop_keeps_the_short_sentences(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tr = write(tmp_path / "t.txt", "a b\na b c d e f\nc d\ne\n")
    s = TEXT_SOURCES["text-file"](data_cfg(tr, max_len=4, text_long="drop",
                                           holdout_fraction=0.0), 0)
    assert s.sentences("train") == [["a", "b"], ["c", "d"], ["e"]]
    assert s.report["dropped"] == 1
    assert "dropped 1 sentences longer than 3 tokens" in capsys.readouterr().err


def test_invalid_utf8_strict_and_replace(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = write(tmp_path / "latin1.txt", "a caf\u00e9 .\n".encode() + b"the caf\xe9 is open\n")
    with pytest.raises(DataError) as err:
        TEXT_SOURCES["text-file"](data_cfg(bad), 0)
    msg = str(err.value.message)
    assert "latin1.txt" in msg and "line 2" in msg and "byte offset 17" in msg and "0xe9" in msg
    assert "column 8" in msg
    assert "data.text_errors=replace" in (err.value.hint or "")
    s = TEXT_SOURCES["text-file"](data_cfg(bad, text_errors="replace", holdout_fraction=0.0), 0)
    assert s.sentences("train")[1] == ["the", "caf\ufffd", "is", "open"]
    assert s.report["invalid_utf8_lines"] == 1
    assert "invalid UTF-8 in 1 lines" in capsys.readouterr().err


def test_unseen_test_tokens_with_vocab_from_train(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    s = source(tmp_path, vocab_from="train")
    # unseen in TRAIN: "ball" (train has "balls"), "two", "dogs", "run", "cat"
    assert s.report["unk_tokens"] == 5 and s.report["unk_types"] == 5
    assert "two" not in s.vocab and "balls" in s.vocab
    decoded = s.decode(s.reals(10, "holdout"))
    assert any("<unk>" in line for line in decoded)
    assert ["two", "dogs", "run", "after", "the", "cat", "."] in s.sentences("holdout")
    err = capsys.readouterr().err
    assert "5 tokens (5 distinct) are not in the vocabulary and read as <unk>" in err


@pytest.mark.parametrize("key,value,match", [
    ("text_long", "cut", "data.text_long must be one of truncate, drop"),
    ("text_errors", "ignore", "data.text_errors must be one of strict, replace"),
    ("vocab_from", "test", "data.vocab_from must be one of train\\+test, train"),
    ("max_len", 1, "data.max_len must be an integer >= 2"),
    ("min_count", 0, "data.min_count must be an integer >= 1"),
])
def test_bad_text_options(tmp_path: Path, key: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        source(tmp_path, **{key: value})


# ---------------------------------------------------------------------------------------------
# coco, emnlp-news
# ---------------------------------------------------------------------------------------------


def test_coco_folder_layouts_and_missing_files(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    text_files(ours)
    assert TEXT_SOURCES["coco"](data_cfg(ours), 0).report["test_sentences"] == 3
    texygen = tmp_path / "texygen"
    write(texygen / "image_coco.txt", "\n".join(TRAIN))
    write(texygen / "testdata" / "test_coco.txt", "\n".join(TEST))
    s = TEXT_SOURCES["coco"](data_cfg(texygen), 0)
    assert s.name == "coco" and s.size == 32 and len(s.sentences("holdout")) == 3
    with pytest.raises(DataError, match="COCO captions training file not found") as err:
        TEXT_SOURCES["coco"](data_cfg(tmp_path / "absent"), 0)
    assert "train.txt" in str(err.value.message) and err.value.hint
    write(tmp_path / "only_train" / "train.txt", "a b\n")
    with pytest.raises(DataError, match="COCO captions test file not found"):
        TEXT_SOURCES["coco"](data_cfg(tmp_path / "only_train"), 0)
    with pytest.raises(DataError, match="must be a folder"):
        TEXT_SOURCES["coco"](data_cfg(ours / "train.txt"), 0)


@pytest.mark.slow
def test_coco_shared_benchmark(capsys: pytest.CaptureFixture) -> None:
    root = shared_file("text/coco/train.txt").parent
    s = TEXT_SOURCES["coco"](data_cfg(root, batch_size=64), 0)
    assert s.size == 10000 and len(s.sentences("holdout")) == 10000
    assert s.max_len == 38 and capsys.readouterr().err == ""


def test_emnlp_offline_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="EMNLP2017 News training file not found") as err:
        TEXT_SOURCES["emnlp-news"](data_cfg(tmp_path), 0)
    assert str(tmp_path / "emnlp_news.txt") in err.value.message
    assert news.URLS["emnlp_news.txt"] in (err.value.hint or "")
    assert "data.download=true" in (err.value.hint or "")

    def offline(url: str, timeout: float = 0) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="could not download https://") as err:
        TEXT_SOURCES["emnlp-news"](data_cfg(tmp_path, download=True), 0)
    assert news.URLS["emnlp_news.txt"] in err.value.message and "no network" in err.value.message
    assert str(tmp_path / "emnlp_news.txt") in (err.value.hint or "")
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_emnlp_download_writes_files_atomically(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    served = {news.URLS["emnlp_news.txt"]: "\n".join(TRAIN).encode(),
              news.URLS["testdata/test_emnlp.txt"]: "\n".join(TEST).encode()}
    seen: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> io.BytesIO:
        seen.append(url)
        return io.BytesIO(served[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    s = TEXT_SOURCES["emnlp-news"](data_cfg(tmp_path, download=True), 0)
    assert s.name == "emnlp-news" and s.size == 32 and len(s.sentences("holdout")) == 3
    assert seen == list(served)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "emnlp_news.txt", "test_emnlp.txt"]
    served[news.URLS["emnlp_news.txt"]] = b""
    with pytest.raises(DataError, match="empty file"):
        news.fetch(news.URLS["emnlp_news.txt"], tmp_path / "x" / "emnlp_news.txt")
    assert not any((tmp_path / "x").iterdir())


def test_emnlp_reads_local_files_in_both_layouts(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(url: str, timeout: float = 0) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    write(tmp_path / "a" / "emnlp_news.txt", "\n".join(TRAIN))
    write(tmp_path / "a" / "testdata" / "test_emnlp.txt", "\n".join(TEST))
    write(tmp_path / "b" / "emnlp_news.txt", "\n".join(TRAIN))
    write(tmp_path / "b" / "testdata" / "emnlp_news_test.txt", "\n".join(TEST[:2]))
    a = TEXT_SOURCES["emnlp-news"](data_cfg(tmp_path / "a", download=True), 0)
    b = TEXT_SOURCES["emnlp-news"](data_cfg(tmp_path / "b"), 0)
    assert len(a.sentences("holdout")) == 3 and len(b.sentences("holdout")) == 2
    write(tmp_path / "c" / "emnlp_news.txt", "x\n")
    with pytest.raises(DataError, match="EMNLP2017 News test file not found") as err:
        TEXT_SOURCES["emnlp-news"](data_cfg(tmp_path / "c"), 0)
    assert "test_emnlp.txt" in err.value.message and news.URLS["testdata/test_emnlp.txt"] in (
        err.value.hint or "")
