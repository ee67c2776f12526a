"""Labelled sentences for text style transfer (task ``"style"``): Shen et al. (2017)'s format.

A corpus is a folder of ``sentiment.{split}.text`` (one sentence per line) and
``sentiment.{split}.labels`` (one label per line, the same number of lines), optionally
``sentiment.{split}.reference`` (one human-written transfer per line, for BLEU). Two sources:

* ``yelp-style``: trains on the ``dev`` split (63,894 sentences of the Yelp release; a fixed
  ``data.holdout_fraction`` of it is the validation split) and tests on ``manual`` (1,000
  sentences with one human reference each). ``data.path`` defaults to
  ``$STABLEGAN_SHARED_DATA/text/yelp``, then ``../shared/data/text/yelp``.
* ``text-style``: any corpus in that format: ``train`` split, ``test`` split when present
  (references optional), else the validation split is the test set.

One training item is ``max_len + 1`` int64 values: the sentence's ids (tokens, ``<eos>``,
``<pad>``), then its label index (labels are mapped to 0..K-1 in sorted order of the training
labels). The vocabulary comes from the training split (``data.min_count``); other tokens read
as ``<unk>``.

Bad input is refused before anything runs: a label file whose length differs from its text
file, a test label outside the training label set, fewer than two styles. Blank lines and
sentences that tokenise to nothing are skipped with their label (and reference), sentences
longer than ``max_len - 1`` tokens truncated, unknown test tokens read as ``<unk>``; all counted
in ``report`` and summarised in one line on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stablegan.config import STYLE_DATA, DataConfig
from stablegan.data.base import FiniteSource
from stablegan.data.text import Vocabulary, _check_max_len, _read_bytes
from stablegan.data.tokenizer import tokenize
from stablegan.errors import ConfigError, DataError

__all__ = ["StyleSource", "read_split", "text_style", "yelp_style", "STYLE_SOURCES"]


def _lines(path: Path, what: str) -> list[str]:
    data = _read_bytes(path, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(f"{what} file {path} is not valid UTF-8 (line {line}, byte offset "
                        f"{err.start})", hint="re-encode the file as UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


def read_split(root: Path, split: str, *, need: bool = True) -> dict[str, Any] | None:
    """``{"text": [...], "labels": [...], "reference": [...] | None}`` of one split (raw
    lines); None when the split's text file is absent and ``need`` is false. DataError when a
    file is missing or its line count differs from the text file's."""
    text_path = root / f"sentiment.{split}.text"
    if not text_path.is_file() and not need:
        return None
    text = _lines(text_path, f"{split} text")
    label_path = root / f"sentiment.{split}.labels"
    labels = [ln.strip() for ln in _lines(label_path, f"{split} label")]
    if len(labels) != len(text):
        raise DataError(f"{label_path} has {len(labels)} lines but {text_path} has {len(text)}",
                        hint="the label file needs exactly one label per sentence, in order")
    ref_path = root / f"sentiment.{split}.reference"
    ref = _lines(ref_path, f"{split} reference") if ref_path.is_file() else None
    if ref is not None and len(ref) != len(text):
        raise DataError(f"{ref_path} has {len(ref)} lines but {text_path} has {len(text)}",
                        hint="the reference file needs exactly one sentence per input sentence")
    return {"text": text, "labels": labels, "reference": ref, "path": text_path}


def _label_order(labels: list[str]) -> list[str]:
    """Sorted label names, numerically when every label is an integer."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return sorted(distinct)


class StyleSource(FiniteSource):
    """Labelled sentences as ``(max_len + 1,)`` int64 items: ids then label (task "style").

    ``train`` and ``test`` are dicts of raw lines (:func:`read_split`). Attributes: ``vocab``,
    ``max_len``, ``label_names`` (index -> label string), ``num_styles``, ``report`` (counts),
    ``test_ids``, ``test_labels``, ``test_references`` (token lists, or None) and
    ``test_sentences`` (the inputs' token lists).
    """

    task = "style"

    def __init__(self, name: str, train: dict[str, Any], seed: int,
                 test: dict[str, Any] | None = None, *, max_len: int | None = None,
                 min_count: int = 1, holdout_fraction: float = 0.05,
                 max_items: int | None = None, quiet: bool = False) -> None:
        max_len = _check_max_len(max_len)
        report = {"train_sentences": 0, "test_sentences": 0, "skipped_empty": 0,
                  "truncated": 0, "unk_tokens": 0}
        names = _label_order([lab for lab in train["labels"] if lab != ""])
        if "" in train["labels"]:
            line = train["labels"].index("") + 1
            raise DataError(f"{train['path'].with_suffix('.labels')} line {line} is empty",
                            hint="every sentence needs a label")
        if len(names) < 2:
            raise DataError(f"data '{name}' has {len(names)} distinct label(s) "
                            f"({', '.join(names)}); style transfer needs at least two",
                            hint="label the sentences with their style, e.g. 0/1")
        index = {lab: i for i, lab in enumerate(names)}
        tr_tok, tr_lab, _ = self._tokenise(train, index, report, max_items)
        if max_len is None:
            max_len = max(len(s) for s in tr_tok) + 1
        if test is not None:
            bad = next(((i, lab) for i, lab in enumerate(test["labels"]) if lab not in index),
                       None)
            if bad is not None:
                raise DataError(
                    f"{test['path'].with_suffix('.labels')} line {bad[0] + 1}: label "
                    f"{bad[1]!r} is not one of the training labels ({', '.join(names)})",
                    hint="the test labels must use the training split's label set")
        te = self._tokenise(test, index, report) if test is not None else None
        tr_tok = self._fit(tr_tok, max_len, report)
        self.vocab = Vocabulary.build(tr_tok, min_count=min_count)
        x = torch.tensor([self.vocab.encode(s, max_len) + [y] for s, y in zip(tr_tok, tr_lab)],
                         dtype=torch.int64)
        super().__init__(name, "style", x, None, seed, holdout_fraction=holdout_fraction,
                         dtype=torch.int64)
        self.max_len, self.label_names, self.num_styles = max_len, names, len(names)
        self._train_tokens = tr_tok
        if te is not None:
            te_tok = self._fit(te[0], max_len, report)
            self.test_sentences = te_tok
            self.test_labels = torch.tensor(te[1], dtype=torch.int64)
            self.test_references = te[2]
            self.test_split = "test"
        else:  # the validation split is the test set
            idx = self._split_idx["holdout"]
            self.test_sentences = [tr_tok[i] for i in idx.tolist()]
            self.test_labels = x[idx, -1].clone()
            self.test_references = None
            self.test_split = "holdout"
        self.test_ids = torch.tensor([self.vocab.encode(s, max_len) for s in self.test_sentences],
                                     dtype=torch.int64).reshape(-1, max_len)
        report.update(train_sentences=len(tr_tok), test_sentences=len(self.test_sentences),
                      unk_tokens=self.vocab.unk_count(self.test_sentences))
        self.report = report
        message = self.summary()
        if message and not quiet:
            print(message, file=sys.stderr)

    @staticmethod
    def _tokenise(split: dict[str, Any], index: dict[str, int], report: dict[str, int],
                  max_items: int | None = None) -> tuple[list[list[str]], list[int],
                                                         list[list[str]] | None]:
        toks, labs, refs = [], [], []
        ref = split.get("reference")
        for i, (line, lab) in enumerate(zip(split["text"], split["labels"])):
            if max_items is not None and len(toks) >= max_items:
                break
            tokens = tokenize(line) if line.strip() else []
            if not tokens:
                report["skipped_empty"] += 1
                continue
            toks.append(tokens)
            labs.append(index[lab])
            if ref is not None:
                refs.append(tokenize(ref[i]) if ref[i].strip() else [])
        if not toks:
            raise DataError(f"{split['path']} holds no sentences (every line is blank)",
                            hint="one sentence per line")
        return toks, labs, refs if ref is not None else None

    @staticmethod
    def _fit(sentences: list[list[str]], max_len: int, report: dict[str, int]
             ) -> list[list[str]]:
        keep = max_len - 1
        report["truncated"] += sum(1 for s in sentences if len(s) > keep)
        return [s[:keep] for s in sentences]

    def summary(self) -> str | None:
        r, parts = self.report, []
        if r["skipped_empty"]:
            parts.append(f"skipped {r['skipped_empty']} blank or empty sentences (with their "
                         "labels)")
        if r["truncated"]:
            parts.append(f"truncated {r['truncated']} sentences to {self.max_len - 1} tokens")
        if r["unk_tokens"]:
            parts.append(f"{r['unk_tokens']} test tokens are not in the training vocabulary "
                         "and read as <unk>")
        if not parts:
            return None
        return (f"data '{self.name}' ({r['train_sentences']} training + {r['test_sentences']} "
                "test sentences): " + "; ".join(parts))

    # ------------------------------------------------------------------ helpers
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split_ids(self, packed: Tensor) -> tuple[Tensor, Tensor]:
        """(ids (B, max_len), labels (B,)) of a packed batch."""
        return packed[:, :-1], packed[:, -1]

    def decode(self, ids: Tensor) -> list[str]:
        rows = ids.view(1, -1) if ids.dim() == 1 else ids
        return [self.vocab.decode_text(row) for row in rows]

    def encode_lines(self, lines: list[str]) -> tuple[Tensor, dict[str, Any]]:
        """Ids (N, max_len) of raw lines and what was done: ``empty`` (line numbers of lines
        that tokenise to nothing: encoded as an empty sentence), ``truncated``, ``unk_tokens``,
        ``unk_words`` (distinct, in first-seen order)."""
        out, info = [], {"empty": [], "truncated": 0, "unk_tokens": 0, "unk_words": []}
        seen: set[str] = set()
        for number, line in enumerate(lines, 1):
            tokens = tokenize(line) if line.strip() else []
            if not tokens:
                info["empty"].append(number)
            if len(tokens) > self.max_len - 1:
                info["truncated"] += 1
                tokens = tokens[: self.max_len - 1]
            for t in tokens:
                if t not in self.vocab:
                    info["unk_tokens"] += 1
                    if t not in seen:
                        seen.add(t)
                        info["unk_words"].append(t)
            out.append(self.vocab.encode(tokens, self.max_len))
        ids = torch.tensor(out, dtype=torch.int64).reshape(-1, self.max_len)
        return ids, info

    def label_index(self, label: str) -> int:
        if label not in self.label_names:
            raise DataError(f"label {label!r} is not one of this run's labels "
                            f"({', '.join(self.label_names)})",
                            hint="pass one of the training labels to --to")
        return self.label_names.index(label)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(vocab_sha256=self.vocab.fingerprint, vocab_size=len(self.vocab),
                     max_len=self.max_len, labels=list(self.label_names))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") == self.name and (
                state.get("vocab_sha256") != self.vocab.fingerprint
                or state.get("max_len") != self.max_len
                or state.get("labels") != list(self.label_names)):
            raise DataError(f"the vocabulary, max_len or labels of data '{self.name}' differ "
                            "from the ones saved with the checkpoint",
                            hint="use the same files, data.min_count, data.max_len and "
                                 "data.max_items as the original run")
        super().load_state_dict(state)


def _root(cfg: DataConfig, default: Path | None, name: str) -> Path:
    if cfg.path:
        root = Path(cfg.path).expanduser()
    elif default is not None:
        root = default
    else:
        raise ConfigError(f"data '{name}' needs data.path",
                          hint="--set data.path=DIR with sentiment.train.text/.labels")
    if not root.is_dir():
        raise DataError(f"data '{name}': {root} is not a folder",
                        hint="data.path is the folder holding sentiment.{split}.text/.labels")
    return root


def _build(name: str, cfg: DataConfig, seed: int, root: Path, train: str,
           test: str) -> StyleSource:
    tr = read_split(root, train)
    te = read_split(root, test, need=False)
    return StyleSource(name, tr, seed, te, max_len=cfg.max_len, min_count=cfg.min_count,
                       holdout_fraction=cfg.holdout_fraction, max_items=cfg.max_items)


def default_yelp_root() -> Path:
    shared = os.environ.get("STABLEGAN_SHARED_DATA")
    if shared:
        return Path(shared) / "text" / "yelp"
    return Path("../shared/data/text/yelp")


def yelp_style(cfg: DataConfig, seed: int) -> StyleSource:
    """``yelp-style``: train on ``sentiment.dev.*``, test on ``sentiment.manual.*``."""
    return _build("yelp-style", cfg, seed, _root(cfg, default_yelp_root(), "yelp-style"),
                  "dev", "manual")


def text_style(cfg: DataConfig, seed: int) -> StyleSource:
    """``text-style``: ``sentiment.train.*`` and, when present, ``sentiment.test.*``."""
    return _build("text-style", cfg, seed, _root(cfg, None, "text-style"), "train", "test")


STYLE_SOURCES = dict(zip(STYLE_DATA, (yelp_style, text_style), strict=True))
