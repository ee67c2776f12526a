"""Text corpora for text GANs: a deterministic :class:`Vocabulary`, the :class:`TextSource` of
token-id sequences, and the ``coco``, ``text-file`` and ``emnlp-news`` data sources
(:data:`TEXT_SOURCES`).

Preparation follows Texygen/RelGAN/TextGAN-PyTorch: each line is one sentence, lower-cased and
split by :func:`~stablegan.data.tokenizer.tokenize` (nltk's ``word_tokenize`` without nltk), the
vocabulary is built from the training and test sentences, and the test file is the held-out split
(the BLEU references). A sentence becomes ``max_len`` int64 ids: its tokens, ``<eos>``, then
``<pad>`` up to ``max_len``.

Problems in the input are handled before training starts and counted in ``TextSource.report``
(one summary line goes to stderr when anything was skipped, cut or replaced): a missing or empty
file is a DataError naming it; blank lines are skipped; sentences longer than ``max_len - 1``
tokens are truncated or dropped (``data.text_long``); invalid UTF-8 is a DataError naming the
line and byte offset, or read as U+FFFD (``data.text_errors``); with ``data.vocab_from=train``
test tokens missing from the vocabulary are read as ``<unk>``. Tokenising the 20,000 COCO lines
takes about a second, so nothing is cached.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import stablegan.data.news as news
from stablegan.config import TEXT_DATA, DataConfig
from stablegan.data.base import FiniteSource, check_split
from stablegan.data.tokenizer import tokenize
from stablegan.errors import ConfigError, DataError

__all__ = [
    "BOS", "EOS", "PAD", "SPECIALS", "TEXT_SOURCES", "UNK", "TextSource", "Vocabulary", "coco",
    "emnlp_news", "read_sentences", "text_file", "tokenize",
]

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
VOCAB_FORMAT = "stablegan-vocabulary"
VOCAB_VERSION = 1

TEXT_LONG = ("truncate", "drop")
TEXT_ERRORS = ("strict", "replace")
VOCAB_FROM = ("train+test", "train")
COCO_ROOT = "data/coco"  # folder used when data.path is not set
COCO_TRAIN_NAMES = ("train.txt", "image_coco.txt")  # ours, Texygen/TextGAN-PyTorch
COCO_TEST_NAMES = ("test.txt", "testdata/test_coco.txt", "testdata/image_coco_test.txt")

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------


class Vocabulary:
    """Token <-> id map: the specials ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then the
    corpus tokens (for :meth:`build`: by descending frequency, ties alphabetically).

    ``encode`` maps unknown tokens to ``<unk>``; ``decode(encode(t, n)) == t`` for every token
    list ``t`` of known tokens shorter than ``n``.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        itos = list(SPECIALS)
        stoi = {tok: i for i, tok in enumerate(itos)}
        for tok in tokens:
            if not isinstance(tok, str) or not tok:
                raise DataError(f"vocabulary token {tok!r} is not a non-empty string",
                                hint="vocabulary tokens are the words of the corpus")
            if tok in stoi:
                what = "a special token" if tok in SPECIALS else "listed twice"
                raise DataError(f"vocabulary token {tok!r} is {what}",
                                hint="each corpus token may appear once; <pad> <bos> <eos> <unk> "
                                "are reserved")
            stoi[tok] = len(itos)
            itos.append(tok)
        self._itos = itos
        self._stoi = stoi

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1,
              max_size: int | None = None) -> Vocabulary:
        """The vocabulary of the tokens occurring at least ``min_count`` times in ``sentences``,
        most frequent first (ties in alphabetical order), at most ``max_size`` entries in all
        (the four specials included)."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ConfigError(f"min_count must be an integer >= 1, got {min_count!r}",
                              hint="set data.min_count=1 to keep every token")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < len(SPECIALS)):
            raise ConfigError(f"max_size must be an integer >= {len(SPECIALS)}, got {max_size!r}",
                              hint="the four special tokens always take the first ids")
        counts = Counter(tok for sentence in sentences for tok in sentence)
        ranked = sorted((item for item in counts.items() if item[1] >= min_count),
                        key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls(tok for tok, _ in ranked)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos

    def __hash__(self) -> int:
        return hash(tuple(self._itos))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} entries)"

    @property
    def tokens(self) -> list[str]:
        """Every entry in id order (specials first)."""
        return list(self._itos)

    def id(self, token: str) -> int:
        """The id of ``token``; ``UNK`` when it is not in the vocabulary."""
        return self._stoi.get(token, UNK)

    def token(self, index: int) -> str:
        """The token with id ``index``; DataError when out of range."""
        if not 0 <= index < len(self._itos):
            raise DataError(f"token id {index} is outside the vocabulary of {len(self)} entries",
                            hint="the ids come from a model built for another vocabulary")
        return self._itos[index]

    def unk_count(self, sentences: Iterable[Sequence[str]]) -> int:
        """How many token occurrences in ``sentences`` are not in the vocabulary (-> ``<unk>``)."""
        return sum(1 for sentence in sentences for tok in sentence if tok not in self._stoi)

    def encode(self, tokens: Sequence[str], max_len: int) -> list[int]:
        """``max_len`` ids: the tokens' ids (``UNK`` if unknown), ``EOS``, then ``PAD``."""
        if len(tokens) + 1 > max_len:
            raise DataError(
                f"a sentence of {len(tokens)} tokens does not fit max_len {max_len} "
                "(it needs one more id for <eos>)",
                hint="raise data.max_len, or truncate the tokens to max_len - 1 first",
            )
        ids = [self._stoi.get(tok, UNK) for tok in tokens]
        ids.append(EOS)
        ids.extend([PAD] * (max_len - len(ids)))
        return ids

    def decode(self, ids: Sequence[int] | Tensor) -> list[str]:
        """The tokens of ``ids`` up to the first ``EOS`` or ``PAD`` (a leading ``BOS`` is
        skipped); DataError for an id outside the vocabulary."""
        values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        out: list[str] = []
        for pos, value in enumerate(values):
            index = int(value)
            if index in (EOS, PAD):
                break
            if index == BOS and pos == 0:
                continue
            out.append(self.token(index))
        return out

    def decode_text(self, ids: Sequence[int] | Tensor) -> str:
        """:meth:`decode` joined with spaces."""
        return " ".join(self.decode(ids))

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-serialisable dict (``json.dump`` it); :meth:`from_json` reads it back."""
        return {
            "format": VOCAB_FORMAT,
            "version": VOCAB_VERSION,
            "specials": list(SPECIALS),
            "tokens": self._itos[len(SPECIALS):],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Vocabulary:
        """The vocabulary of a :meth:`to_json` dict (or its JSON text); DataError if malformed."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as err:
                raise DataError(f"vocabulary JSON cannot be parsed: {err}",
                                hint="pass the dict written by Vocabulary.to_json()") from None
        if not isinstance(data, Mapping) or data.get("format") != VOCAB_FORMAT:
            raise DataError("not a stablegan vocabulary (no 'format': 'stablegan-vocabulary')",
                            hint="pass the dict written by Vocabulary.to_json()")
        if data.get("version") != VOCAB_VERSION or list(data.get("specials", [])) != list(
                SPECIALS):
            raise DataError(
                f"unsupported vocabulary (version {data.get('version')!r}, specials "
                f"{data.get('specials')!r})",
                hint=f"this stablegan reads version {VOCAB_VERSION} with specials {SPECIALS}",
            )
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise DataError("vocabulary JSON has no 'tokens' list",
                            hint="pass the dict written by Vocabulary.to_json()")
        return cls(tokens)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the entries in id order: equal fingerprints mean equal vocabularies."""
        return hashlib.sha256(json.dumps(self._itos, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading text files
# ---------------------------------------------------------------------------------------------


def _read_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path``; DataError when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{what} file not found: {path}",
                        hint="check the path (a UTF-8 text file, one sentence per line)") from None
    except IsADirectoryError:
        raise DataError(f"{what} file {path} is a folder",
                        hint="give the text file itself (one sentence per line)") from None
    except OSError as err:
        raise DataError(f"cannot read {what} file {path}: {err.strerror or err}",
                        hint="check that the file exists and is readable") from None


def read_sentences(path: str | Path, errors: str = "strict",
                   what: str = "text") -> tuple[list[list[str]], dict[str, int]]:
    """The tokenised non-blank lines of the UTF-8 file ``path`` and counts
    ``{"empty_lines", "invalid_utf8_lines"}``.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (as Python's text mode reads them, like Texygen);
    a leading byte-order mark is ignored. ``errors="strict"``: invalid UTF-8 is a DataError naming
    the line and byte offset; ``"replace"``: invalid bytes become U+FFFD. ``what`` names the file
    in messages ("training", "test"). DataError when the file holds no sentence.
    """
    if errors not in TEXT_ERRORS:
        raise ConfigError(f"data.text_errors must be one of {', '.join(TEXT_ERRORS)}, got "
                          f"{errors!r}", hint="strict stops at invalid UTF-8, replace reads it "
                          "as U+FFFD")
    path = Path(path).expanduser()
    data = _read_bytes(path, what)
    chunks = data.split(b"\n")
    if chunks[-1] == b"":  # the final newline ends the last line
        chunks.pop()
    sentences: list[list[str]] = []
    empty = invalid = 0
    offset = 0
    for number, raw in enumerate(chunks, 1):
        start = offset
        offset += len(raw) + 1
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw, start = raw[len(codecs.BOM_UTF8):], start + len(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            if errors == "strict":
                raise DataError(
                    f"{what} file {path} is not valid UTF-8: line {number}, byte offset "
                    f"{start + err.start} (column {err.start + 1}: {err.reason}, byte "
                    f"{raw[err.start]:#04x})",
                    hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8), or set "
                    "data.text_errors=replace to read invalid bytes as U+FFFD",
                ) from None
            text = raw.decode("utf-8", errors="replace")
            invalid += 1
        if text.endswith("\r"):
            text = text[:-1]
        for line in text.split("\r"):
            if line.strip():
                sentences.append(tokenize(line))
            else:
                empty += 1
    if not sentences:
        detail = "it is empty" if not data else f"all {empty} lines are blank"
        raise DataError(f"{what} file {path} holds no sentences ({detail})",
                        hint="the file must hold one sentence per line")
    return sentences, {"empty_lines": empty, "invalid_utf8_lines": invalid}


# ---------------------------------------------------------------------------------------------
# The data source
# ---------------------------------------------------------------------------------------------

REPORT_KEYS = ("train_sentences", "test_sentences", "empty_lines", "invalid_utf8_lines",
               "truncated", "dropped", "unk_tokens", "unk_types")


def _choice(key: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else ConfigError naming ``data.<key>``."""
    if value not in allowed:
        raise ConfigError(f"data.{key} must be one of {', '.join(allowed)}, got {value!r}",
                          hint=f"set data.{key}={allowed[0]}")
    return str(value)


def _check_max_len(max_len: object) -> int | None:
    """``max_len`` if it is None or an integer >= 2, else ConfigError."""
    if max_len is None:
        return None
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 2:
        raise ConfigError(f"data.max_len must be an integer >= 2 or null, got {max_len!r}",
                          hint="null uses the longest sentence + 1 (for <eos>)")
    return max_len


class TextSource(FiniteSource):
    """Sentences as ``(max_len,)`` int64 token ids (task ``"text"``), sampled in epochs.

    ``train`` and ``test`` are tokenised sentences. The held-out split is ``test`` when given
    (``reals(n, "holdout")`` are test sentences: the BLEU references), else a fixed
    ``holdout_fraction`` of ``train``. ``max_len`` (None: the longest sentence of train and test
    + 1 for ``<eos>``) bounds every sequence; longer sentences are truncated to ``max_len - 1``
    tokens or dropped (``text_long``). The vocabulary is ``vocab`` when given, else built from
    ``vocab_from`` ("train+test" as Texygen/TextGAN do, or "train": unseen test tokens become
    ``<unk>``) keeping tokens seen ``min_count`` times. ``max_items`` keeps only the first
    training sentences.

    Attributes: ``vocab``, ``max_len``, ``sample_shape == (max_len,)`` and ``report``, the counts
    of :data:`REPORT_KEYS` (``report`` given to the constructor adds the reader's counts).
    """

    def __init__(
        self,
        name: str,
        train: Sequence[Sequence[str]],
        seed: int,
        test: Sequence[Sequence[str]] | None = None,
        *,
        max_len: int | None = None,
        text_long: str = "truncate",
        vocab_from: str = "train+test",
        min_count: int = 1,
        vocab: Vocabulary | None = None,
        holdout_fraction: float = 0.1,
        max_items: int | None = None,
        report: Mapping[str, int] | None = None,
        quiet: bool = False,
    ) -> None:
        text_long = _choice("text_long", text_long, TEXT_LONG)
        vocab_from = _choice("vocab_from", vocab_from, VOCAB_FROM)
        max_len = _check_max_len(max_len)
        counts = dict.fromkeys(REPORT_KEYS, 0)
        counts.update(report or {})
        train_s = [list(s) for s in train]
        if max_items is not None:
            train_s = train_s[:max_items]
        test_s = [list(s) for s in test] if test is not None else None
        if not train_s:
            raise DataError(f"data '{name}' has no training sentences", hint="check data.path")
        if test_s is not None and not test_s:
            raise DataError(f"data '{name}' has an empty test set",
                            hint="check data.test_path (or leave it unset)")
        if max_len is None:
            max_len = max(len(s) for s in train_s + (test_s or [])) + 1
        train_s = self._fit(name, "training", train_s, max_len, text_long, counts)
        if test_s is not None:
            test_s = self._fit(name, "test", test_s, max_len, text_long, counts)
        if vocab is None:
            vocab = Vocabulary.build(train_s + (test_s or []) if vocab_from == "train+test"
                                     else train_s, min_count=min_count)
        everything = train_s + (test_s or [])
        unknown = {tok for s in everything for tok in s if tok not in vocab}
        counts.update(train_sentences=len(train_s), test_sentences=len(test_s or []),
                      unk_tokens=vocab.unk_count(everything), unk_types=len(unknown))
        x = torch.tensor([vocab.encode(s, max_len) for s in everything], dtype=torch.int64)
        super().__init__(
            name, "text", x, None, seed,
            holdout_fraction=holdout_fraction if test_s is None else 0.0, dtype=torch.int64,
        )
        if test_s is not None:  # the test file is the held-out split
            n = len(train_s)
            self._split_idx = {"train": torch.arange(n), "holdout": torch.arange(n, x.shape[0])}
        self.vocab = vocab
        self.max_len = max_len
        self.report = counts
        self._sentences = everything
        message = self.summary()
        if message and not quiet:
            print(message, file=sys.stderr)

    @staticmethod
    def _fit(name: str, what: str, sentences: list[list[str]], max_len: int, text_long: str,
             counts: dict[str, int]) -> list[list[str]]:
        """``sentences`` with those longer than ``max_len - 1`` tokens truncated or dropped."""
        keep = max_len - 1
        long = sum(1 for s in sentences if len(s) > keep)
        if not long:
            return sentences
        if text_long == "truncate":
            counts["truncated"] += long
            return [s[:keep] for s in sentences]
        counts["dropped"] += long
        kept = [s for s in sentences if len(s) <= keep]
        if not kept:
            raise DataError(
                f"data '{name}': all {len(sentences)} {what} sentences are longer than "
                f"data.max_len - 1 = {keep} tokens and were dropped",
                hint="raise data.max_len (null fits the longest sentence) or set "
                "data.text_long=truncate",
            )
        return kept

    def summary(self) -> str | None:
        """One line on what loading skipped, cut or replaced; None when nothing was."""
        r = self.report
        parts = []
        if r["empty_lines"]:
            parts.append(f"skipped {r['empty_lines']} blank lines")
        if r["truncated"]:
            parts.append(f"truncated {r['truncated']} sentences to {self.max_len - 1} tokens")
        if r["dropped"]:
            parts.append(f"dropped {r['dropped']} sentences longer than {self.max_len - 1} "
                         "tokens")
        if r["invalid_utf8_lines"]:
            parts.append(f"read invalid UTF-8 in {r['invalid_utf8_lines']} lines as U+FFFD")
        if r["unk_tokens"]:
            parts.append(f"{r['unk_tokens']} tokens ({r['unk_types']} distinct) are not in the "
                         "vocabulary and read as <unk>")
        if not parts:
            return None
        sizes = f"{r['train_sentences']} training + {r['test_sentences']} test sentences"
        return f"data '{self.name}' ({sizes}): " + "; ".join(parts)

    def sentences(self, split: str = "train") -> list[list[str]]:
        """The tokenised sentences of ``split`` in file order, truncated as encoded (the BLEU
        references for "holdout"). Tokens are the corpus words, also those encoded as <unk>."""
        check_split(split)
        return [list(self._sentences[i]) for i in self._split_idx[split].tolist()]

    def decode(self, ids: Tensor) -> list[str]:
        """The text of each row of ``ids`` (B, L) (or of a single (L,) sequence)."""
        rows = ids.view(1, -1) if ids.dim() == 1 else ids
        return [self.vocab.decode_text(row) for row in rows]

    def state_dict(self) -> dict[str, Any]:
        """The sampler state plus what identifies the encoding (vocabulary, max_len)."""
        state = super().state_dict()
        state.update(vocab_size=len(self.vocab), vocab_sha256=self.vocab.fingerprint,
                     max_len=self.max_len)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the sampler; DataError when the vocabulary or max_len differ from the saved
        ones (the ids in the checkpointed models would mean other words)."""
        if state.get("name") == self.name:
            if state.get("vocab_sha256") != self.vocab.fingerprint:
                raise DataError(
                    f"the vocabulary of data '{self.name}' differs from the one saved with the "
                    f"checkpoint ({state.get('vocab_size')} entries then, {len(self.vocab)} now)",
                    hint="resume with the same text files and data.vocab_from, data.min_count, "
                    "data.max_len and data.max_items as the original run",
                )
            if state.get("max_len") != self.max_len:
                raise DataError(
                    f"data '{self.name}' has max_len {self.max_len}, the checkpoint was saved "
                    f"with {state.get('max_len')}",
                    hint="resume with the same data.max_len (and text files) as the original run",
                )
        super().load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# Data sources (merged into stablegan.data.SOURCES)
# ---------------------------------------------------------------------------------------------


def _text_source(name: str, cfg: DataConfig, seed: int, train_path: Path,
                 test_path: Path | None) -> TextSource:
    """A TextSource over the files, with the text options read from ``cfg``."""
    errors = _choice("text_errors", getattr(cfg, "text_errors", "strict"), TEXT_ERRORS)
    options = {
        "max_len": _check_max_len(getattr(cfg, "max_len", None)),
        "text_long": _choice("text_long", getattr(cfg, "text_long", "truncate"), TEXT_LONG),
        "vocab_from": _choice("vocab_from", getattr(cfg, "vocab_from", "train+test"),
                              VOCAB_FROM),
    }
    min_count = getattr(cfg, "min_count", 1)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ConfigError(f"data.min_count must be an integer >= 1, got {min_count!r}",
                          hint="set data.min_count=1 to keep every token")
    train, report = read_sentences(train_path, errors, "training")
    test = None
    if test_path is not None:
        test, test_report = read_sentences(test_path, errors, "test")
        report = {k: report[k] + test_report[k] for k in report}
    return TextSource(name, train, seed, test, min_count=min_count,
                      holdout_fraction=cfg.holdout_fraction, max_items=cfg.max_items,
                      report=report, **options)


def _find(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``root/name`` that is a file, else None."""
    return next((root / n for n in names if (root / n).is_file()), None)


def coco(cfg: DataConfig, seed: int) -> TextSource:
    """``coco``: the Image COCO captions benchmark, ``train.txt`` and ``test.txt`` (the BLEU
    references) in the folder ``data.path`` (default ``./data/coco``). Texygen's names
    ``image_coco.txt`` and ``testdata/test_coco.txt`` are recognised too."""
    root = Path(cfg.path if cfg.path is not None else COCO_ROOT).expanduser()
    if root.is_file():
        raise DataError(f"data.path for coco must be a folder, got the file {root}",
                        hint="point data.path at the folder holding train.txt and test.txt, or "
                        "use data.name=text-file for a single file")
    paths = []
    for what, names in (("training", COCO_TRAIN_NAMES), ("test", COCO_TEST_NAMES)):
        path = _find(root, names)
        if path is None:
            raise DataError(
                f"COCO captions {what} file not found: expected {root / names[0]} (or "
                f"{', '.join(names[1:])})",
                hint="set data.path to the folder with the Texygen image_coco split "
                "(train.txt, test.txt: one caption per line)",
            )
        paths.append(path)
    return _text_source("coco", cfg, seed, paths[0], paths[1])


def text_file(cfg: DataConfig, seed: int) -> TextSource:
    """``text-file``: sentences from ``data.path`` (one per line); ``data.test_path`` (optional)
    is the held-out split, else ``data.holdout_fraction`` of the training lines."""
    if not cfg.path:
        raise ConfigError("data 'text-file' needs data.path",
                          hint="--set data.path=train.txt (one sentence per line), optionally "
                          "data.test_path=test.txt")
    test_path = getattr(cfg, "test_path", None)
    return _text_source("text-file", cfg, seed, Path(cfg.path).expanduser(),
                        Path(test_path).expanduser() if test_path else None)


def emnlp_news(cfg: DataConfig, seed: int) -> TextSource:
    """``emnlp-news``: the EMNLP2017 WMT News benchmark (LeakGAN/RelGAN/TextGAN-PyTorch) in the
    folder ``data.path`` (default ``./data/emnlp_news``): ``emnlp_news.txt`` and
    ``testdata/test_emnlp.txt``; ``data.download=true`` fetches missing files."""
    root = Path(cfg.path if cfg.path is not None else news.DEFAULT_ROOT).expanduser()
    train, test = news.locate(root, download=bool(cfg.download))
    return _text_source("emnlp-news", cfg, seed, train, test)


TEXT_SOURCES: dict[str, Callable[[DataConfig, int], TextSource]] = dict(
    zip(TEXT_DATA, (coco, text_file, emnlp_news), strict=True))
