"""The style task's section, ``style`` (:mod:`stablegan.tasks.style`, :mod:`stablegan.methods.
style`): text style transfer on the data ``yelp-style`` / ``text-style``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stablegan.core.schema import Schema, check, check_choice, key

OWNER = "style"

# the data names of the style task (stablegan.data.style registers their sources under these)
STYLE_DATA = ("yelp-style", "text-style")


@dataclass
class StyleConfig:
    """Text style transfer (task "style": data yelp-style / text-style, methods.style)."""

    embed_dim: int = key(64, "word embedding, shared by encoder, decoder and soft decoding")
    hidden: int = key(128, "encoder and decoder GRU (papers: 700)")
    z_dim: int = key(64, "content code from the encoder's final state (papers: 500)")
    c_dim: int = key(32, "style code: an embedding of the label (papers: 200)")
    attention: bool = key(False, "the decoder attends over the encoder states (Luong "
                                 "\"general\")")
    critic_hidden: int = key(128, "latent-code critic MLP (and the ratio classifier's)")
    classifier_filters: int = key(64, "CNN style classifier: filters per width 3, 4, 5")
    classifier_dropout: float = key(0.5, "dropout of the CNN style classifier")
    autoencoder_steps: int = key(200, "steps of the autoencoder pre-training phase (teacher "
                                      "forcing only)")
    rec_weight: float = key(1.0, "weight of the reconstruction cross-entropy")
    style_weight: float = key(1.0, "weight of the model classifier's cross-entropy on the soft "
                                   "transferred sentence")
    adv_weight: float = key(0.5, "weight of the latent-code critic's adversarial term "
                                 "(authors: 0.5)")
    # "style" (Tikhonov et al. 2019 / the authors' code: D tells the codes of style
    # adversary_real sentences from those of the other style, the encoder fools it) or "prior"
    # (an adversarial autoencoder: D tells N(0, I) draws from codes)
    adversary: str = key("style", "the latent adversary's game: style (codes of one style vs "
                                  "the other) or prior (N(0, I) draws vs codes)",
                         choices=("style", "prior"))
    adversary_real: int = key(0, "style adversary: the style (0 or 1) whose codes are the "
                                 "critic's \"real\"")
    # "none": objective.g_loss on D(z); "softmax": the authors' importance weights
    # B * softmax(D(z)) (no gradient) on the generator's critic loss, no ratio clipping
    importance: str = key("none", "none (objective.g_loss on D(z)) or softmax (the authors' "
                                  "weights B softmax(D(z)), no ratio clipping)",
                          choices=("none", "softmax"))
    sentence_critic: bool = key(False, "add the sentence-level critic (Tikhonov et al. 2019) on "
                                       "the soft transferred sentences")
    sentence_weight: float = key(0.5, "weight of the sentence critic's adversarial term")
    sentence_filters: int = key(64, "sentence critic CNN: filters per width 3, 4, 5")
    tau_start: float = key(1.0, "Gumbel-softmax temperature of the soft decoding at the start")
    tau_decay: float = key(0.5, "factor on the temperature every tau_every adversarial steps")
    tau_min: float = key(0.001, "floor of the temperature")
    tau_every: int = key(0, "adversarial steps per temperature decay; 0 = one data epoch")
    classifier_lr: float = key(1e-3, "learning rate of the model's own style classifier "
                                     "(trained on real sentences)")
    eval_classifier_epochs: int = key(2, "epochs of the separate evaluation CNN (trained on the "
                                         "train split)")
    eval_max_sentences: int = key(1000, "test sentences transferred per evaluation")


def validate_style(cfg: Any) -> None:
    """style.*"""
    st = cfg.style
    for name in ("embed_dim", "hidden", "z_dim", "c_dim", "critic_hidden", "classifier_filters",
                 "sentence_filters", "eval_max_sentences"):
        check(getattr(st, name) >= 1, f"style.{name}", f"must be >= 1, got {getattr(st, name)}")
    for name in ("autoencoder_steps", "tau_every", "eval_classifier_epochs"):
        check(getattr(st, name) >= 0, f"style.{name}", f"must be >= 0, got {getattr(st, name)}")
    for name in ("rec_weight", "style_weight", "adv_weight", "sentence_weight"):
        check(getattr(st, name) >= 0, f"style.{name}", f"must be >= 0, got {getattr(st, name)}")
    check(0.0 <= st.classifier_dropout < 1.0, "style.classifier_dropout", "must be in [0, 1)")
    check_choice(st, "style.importance")
    check_choice(st, "style.adversary")
    check(st.adversary_real in (0, 1), "style.adversary_real",
          f"must be 0 or 1 (the style index on the real side), got {st.adversary_real}")
    check(not (st.importance == "softmax" and cfg.variational.clip), "style.importance",
          "=softmax is the authors' variant without ratio clipping",
          hint="set variational.clip=false (or style.importance=none)")
    check(st.tau_start > 0 and st.tau_min > 0, "style.tau_start",
          "and style.tau_min must be > 0")
    check(0.0 < st.tau_decay <= 1.0, "style.tau_decay", "must be in (0, 1]")
    check(st.classifier_lr > 0, "style.classifier_lr", "must be a positive learning rate")
    v = cfg.variational
    if cfg.data.name in STYLE_DATA and v.clip:  # the ratio options that cannot apply to style
        check(v.ratio != "exact", "variational.ratio",
              "= exact needs a generator with a tractable likelihood of its samples; the style "
              "autoencoder's content codes (and its soft sentences) have none",
              hint="use variational.ratio=classifier or classifier_same_x")
        check(not (v.classifier_schedule == "per_phase" and st.sentence_critic),
              "variational.classifier_schedule",
              "= per_phase takes the ratio classifiers' steps before the generator moves, but the "
              "sentence critic's ratio classifier RS trains on each generator step's soft "
              "transfers", hint="use variational.classifier_schedule=per_step with "
                                "style.sentence_critic=true")


def register(schema: Schema) -> None:
    """Add the ``style`` section, its validation and its autoencoder phase (which may run with
    ``steps: 0``)."""
    schema.add_section("style", StyleConfig, owner=OWNER, validate=validate_style)
    schema.add_lone_phase("style.autoencoder_steps > 0: the autoencoder alone",
                          lambda cfg: cfg.data.name in STYLE_DATA
                          and cfg.style.autoencoder_steps > 0)
