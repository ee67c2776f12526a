"""The conditional task's section, ``conditional`` (:mod:`stablegan.tasks.conditional`,
docs/conditional.md): class-conditional GANs on labelled data; StudioGAN's names in brackets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stablegan.core.schema import Schema, check, check_choice, key

OWNER = "conditional"


@dataclass
class ConditionalConfig:
    """Class-conditional GANs (docs/conditional.md); StudioGAN's names in brackets."""

    # none | concat (a class embedding concatenated to z) | cbn (conditional BatchNorm:
    # class-dependent gain and bias in every BN layer of G)
    generator: str = key("none", "how G sees the class [g_cond_mtd]: none, concat (an "
                                 "embedding beside z) or cbn (conditional BatchNorm)",
                         choices=("none", "concat", "cbn"))
    # none | projection (Miyato & Koyama 2018, f(x) + <embed(y), phi(x)>) | ac (auxiliary
    # classifier, Odena et al. 2017)
    critic: str = key("none", "how D sees the class [d_cond_mtd]: none, projection (Miyato & "
                              "Koyama 2018) or ac (auxiliary classifier)",
                      choices=("none", "projection", "ac"))
    aux_weight: float = key(1.0, "weight of the AC cross-entropy in the D and G losses "
                                 "[cond_lambda]")
    embed_dim: int = key(0, "class embedding size of conditional.generator=concat (0: "
                            "latent_dim)")
    label_prior: str = key("data", "the labels G draws: data (the training set's class "
                                   "frequencies) or uniform", choices=("data", "uniform"))
    reweight: str = key("class", "variational.reweight under conditioning: softmax within each "
                                 "class of the batch, or over the batch",
                        choices=("class", "batch"))
    misassigned_below: float = key(0.5, "flag a class whose class accuracy is below this while "
                                        "another class takes most of its samples")

    @property
    def enabled(self) -> bool:
        return self.generator != "none" or self.critic != "none"


def validate_conditional(cfg: Any) -> None:
    """conditional.* (the tricks that keep no labels are refused with conditioning)"""
    c = cfg.conditional
    for name in ("generator", "critic", "label_prior", "reweight"):
        check_choice(c, f"conditional.{name}")
    check(c.aux_weight >= 0, "conditional.aux_weight", f"must be >= 0, got {c.aux_weight}")
    check(c.embed_dim >= 0, "conditional.embed_dim", "must be >= 0")
    check(0.0 <= c.misassigned_below <= 1.0, "conditional.misassigned_below",
          "must be in [0, 1]")
    if not c.enabled:
        return
    check((c.generator == "none") == (c.critic == "none"), "conditional.generator",
          f"is '{c.generator}' but conditional.critic is '{c.critic}': both networks must see "
          "the class, or neither", hint="e.g. --set conditional.generator=cbn "
                                        "--set conditional.critic=projection (or method=cgan-pd)")
    check(cfg.replay.size == 0, "replay.size", "must be 0 for a conditional GAN: the replay "
          "buffer keeps no labels", hint="--set replay.size=0")
    check(cfg.unrolled.steps == 0, "unrolled.steps", "must be 0 for a conditional GAN (the "
          "unrolled critic steps see real batches with other labels)",
          hint="--set unrolled.steps=0")
    check(c.generator != "cbn" or cfg.model.g_batchnorm, "conditional.generator",
          "cbn needs BatchNorm in the generator (model.g_batchnorm=false)",
          hint="--set model.g_batchnorm=true, or conditional.generator=concat")
    check(not cfg.model.compile, "model.compile", "is not supported for conditional GANs "
          "(the critic reads its labels beside the input)", hint="--set model.compile=false")


def register(schema: Schema) -> None:
    """Add the ``conditional`` section and its validation."""
    schema.add_section("conditional", ConditionalConfig, owner=OWNER,
                       validate=validate_conditional)
