"""The text task's keys (:mod:`stablegan.tasks.text`): sentence files and the oracle in
``data``, the RelGAN / LSTM networks and the Gumbel-softmax temperature in ``model``.

Registered into the shared ``data`` and ``model`` sections, so they read ``cfg.data.max_len``
and ``cfg.model.beta_max`` like every other key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stablegan.core.schema import Schema, check, check_choice, key

OWNER = "text"

# the sentence files of the text task (stablegan.data.text registers their sources under these;
# "oracle" is text too, with its own source)
TEXT_DATA = ("coco", "text-file", "emnlp-news")


@dataclass
class TextDataKeys:
    """data.* of the text task: sentence files and the synthetic oracle."""

    max_len: int | None = key(None, "ids per sentence (tokens + <eos>); null = the longest "
                                    "train/test sentence + 1")
    test_path: str | None = key(None, "text-file: the test file (BLEU references, held-out "
                                      "split)")
    text_long: str = key("truncate", "sentences longer than max_len - 1 tokens: truncate or drop",
                         choices=("truncate", "drop"))
    text_errors: str = key("strict", "invalid UTF-8 in a sentence file: strict (an error) or "
                                     "replace", choices=("strict", "replace"))
    vocab_from: str = key("train+test", "the vocabulary's sentences: train+test (Texygen, "
                                        "TextGAN) or train (unseen words -> <unk>)",
                          choices=("train+test", "train"))
    min_count: int = key(1, "keep tokens seen at least this often")
    oracle_seed: int = key(0, "oracle: the seed of the oracle LSTM's N(0, 1) parameters")
    oracle_train: int = key(10_000, "oracle: training sentences it samples")
    oracle_test: int = key(5_000, "oracle: test sentences it samples")
    oracle_vocab: int = key(5000, "oracle: vocabulary of the oracle LSTM (SeqGAN/RelGAN: 5,000)")


@dataclass
class TextModelKeys:
    """model.* of the text task: model.name relgan | lstm, and the Gumbel-softmax annealing."""

    embed_dim: int = key(32, "generator token embedding (relgan, lstm)")
    lstm_hidden: int = key(32, "generator LSTM hidden size (relgan, lstm)")
    mem_slots: int = key(1, "RelGAN relational memory: slots")
    num_heads: int = key(2, "RelGAN relational memory: attention heads")
    head_size: int = key(256, "RelGAN relational memory: size of each head")
    d_embed_dim: int = key(64, "CNN discriminator: token embedding (a multiple of num_rep)")
    num_rep: int = key(64, "CNN discriminator: representations")
    d_filters: int = key(300, "CNN discriminator: filters per width 2, 3, 4, 5")
    # Gumbel-softmax inverse temperature: beta_scale * schedule(i / N) from 1 to beta_max, with
    # N = beta_steps adversarial steps
    beta_max: float = key(1.0, "Gumbel-softmax inverse temperature at the end of the annealing "
                               "(it starts at 1)")
    beta_schedule: str = key("exp", "shape of the inverse-temperature annealing from 1 to "
                                    "beta_max", choices=("exp", "lin", "sigmoid", "const", "log",
                                                         "quad", "sqrt"))
    beta_steps: int = key(5000, "adversarial steps N of the annealing (RelGAN/TextGAN: a fixed "
                                "5000; 0 = the run's adversarial steps)")
    beta_scale: float = key(1.0, "factor on the inverse temperature (the PPO-GAN authors' text "
                                 "code: 0.2, with beta_max 5)")


def validate_text(cfg: Any) -> None:
    """data.* and model.* of the text task (and model.compile, which text cannot use)."""
    d, m = cfg.data, cfg.model
    check(d.max_len is None or d.max_len >= 2, "data.max_len", "must be >= 2 (tokens + <eos>)")
    for name in ("text_long", "text_errors", "vocab_from"):
        check_choice(d, f"data.{name}")
    check(d.min_count >= 1, "data.min_count", "must be >= 1")
    check(d.oracle_train >= 1 and d.oracle_test >= 1, "data.oracle_train",
          "and data.oracle_test must be >= 1")
    check(d.oracle_vocab >= 2, "data.oracle_vocab", f"must be >= 2, got {d.oracle_vocab}")
    for name in ("embed_dim", "lstm_hidden", "mem_slots", "num_heads", "head_size",
                 "d_embed_dim", "num_rep", "d_filters"):
        check(getattr(m, name) >= 1, f"model.{name}", "must be >= 1")
    check(m.d_embed_dim % m.num_rep == 0, "model.d_embed_dim",
          f"must be a multiple of model.num_rep ({m.num_rep})")
    check(m.beta_max >= 1.0, "model.beta_max", "must be >= 1 (the annealing starts at 1)")
    check(m.beta_steps >= 0, "model.beta_steps",
          f"must be >= 0 (0 = over the run's adversarial steps), got {m.beta_steps}")
    check(math.isfinite(m.beta_scale) and m.beta_scale > 0, "model.beta_scale",
          f"must be a positive number, got {m.beta_scale}")
    check_choice(m, "model.beta_schedule")
    check(not (m.compile and (d.name == "oracle" or d.name in TEXT_DATA)), "model.compile",
          f"must be false for text (data '{d.name}'): the compiled token-by-token loop "
          "fails at the first sample step and runs slower than eager where it runs",
          hint="set model.compile=false (text runs eager)")


def register(schema: Schema) -> None:
    """Add the text task's keys to ``data`` and ``model``, with their validation."""
    schema.add_keys("data", TextDataKeys, owner=OWNER)
    schema.add_keys("model", TextModelKeys, owner=OWNER, validate=validate_text)
