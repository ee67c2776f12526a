"""Named methods: each is only a config fragment over the ingredients (see stablegan.config).

``--set method=NAME`` selects one; anything set explicitly in a recipe or with ``--set`` wins.
"""

from __future__ import annotations

import copy
from typing import Any

_WGAN_GP = {
    "objective": {"loss": "wasserstein"},
    "lipschitz": {"gradient_penalty": {"weight": 10.0}},
    "schedule": {"n_critic": 5},
    "optim": {"betas": [0.5, 0.9]},
}

# The authors' CIFAR-10 settings of Wu et al. (2020): WGAN-GP critic (lambda 5), eps 0.4,
# 5 critic steps then 5 (C step + G step) pairs on one latent batch.
_PPO = {
    "objective": {"loss": "wasserstein"},
    "lipschitz": {"gradient_penalty": {"weight": 5.0}},
    "schedule": {"n_critic": 5, "n_gen": 5, "same_z_for_gen_steps": True},
    "optim": {"betas": [0.5, 0.9]},
    "variational": {"reweight": True, "clip": True, "eps": 0.4},
}

_CT = {"lipschitz": {"consistency": {"weight": 2.0, "feature_weight": 0.1, "margin": 0.0}},
       "model": {"d_dropout": 0.2}}


# The rest of the authors' released CIFAR-10 setting on top of _PPO + _CT: their clip
# f * min(r, 1 + eps), G and C at lr / n_gen, C's BatchNorm in train mode on pure batches, Adam
# betas (0, 0.9) for all three networks, linear decay to 0, batch 32. A recipe's
# data.batch_size wins over a preset's: pass --set data.batch_size=32 with a recipe.
_AUTHORS = {
    "optim": {"betas": [0.0, 0.9], "lr_decay": "linear"},
    "data": {"batch_size": 32},
    "variational": {"clip_mode": "reference", "classifier_lr_divide": True,
                    "classifier_bn": "authors", "ratio": "classifier"},
}

# The authors' text code (their TextGAN-PyTorch fork, trgan_instructor.py and config.py): loss
# "WGAN" (no re-weighting) with a gradient penalty of 5 on relaxed one-hots, 5 critic steps and ONE
# generator step per phase, the classifier ratio through a second RelGAN discriminator (the text
# task's classifier) trained one BCE step per G step on independent draws, clip
# A * min(r, 1 + eps) with eps 0.4, the raw critic value as advantage, gradient-norm clip 5 on
# every network, and beta = 0.2 * 5 ** (i / 5000). Text recipes set model.beta_max for RelGAN;
# their per_method section gives this preset back its beta_max of 5.
_PPO_TEXT_AUTHORS = {
    "objective": {"loss": "wasserstein"},
    "lipschitz": {"gradient_penalty": {"weight": 5.0}},
    "schedule": {"n_critic": 5, "n_gen": 1, "same_z_for_gen_steps": True},
    "optim": {"betas": [0.9, 0.999], "grad_clip": 5.0, "c_grad_clip": 5.0},
    "variational": {"reweight": False, "clip": True, "eps": 0.4, "clip_mode": "reference",
                    "ratio": "classifier", "advantage": "raw"},
    "model": {"beta_max": 5.0, "beta_scale": 0.2, "beta_steps": 5000, "beta_schedule": "exp"},
}


# mimicry's cGAN-PD: hinge loss, spectral norm on D (and its class embedding), cBN generator
_CGAN_PD = {"objective": {"loss": "hinge"}, "lipschitz": {"spectral_norm": True},
            "conditional": {"generator": "cbn", "critic": "projection"}}


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    from stablegan.config import deep_merge

    out: dict[str, Any] = {}
    for p in parts:
        out = deep_merge(out, copy.deepcopy(p))
    return out


PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "gan": ("minimax (saturating) GAN, Goodfellow et al. 2014",
            {"objective": {"loss": "minimax"}}),
    "nsgan": ("non-saturating GAN, -log D(G(z)) generator loss",
              {"objective": {"loss": "nonsaturating"}}),
    "lsgan": ("least-squares GAN, Mao et al. 2017", {"objective": {"loss": "least_squares"}}),
    "hinge": ("hinge loss GAN (Lim & Ye 2017)", {"objective": {"loss": "hinge"}}),
    "wgan": ("Wasserstein GAN with weight clipping c=0.01, 5 critic steps, Arjovsky et al. 2017",
             {"objective": {"loss": "wasserstein"}, "lipschitz": {"weight_clip": 0.01},
              "schedule": {"n_critic": 5}}),
    "wgan-gp": ("Wasserstein GAN with gradient penalty (lambda 10, 5 critic steps), "
                "Gulrajani et al. 2017", _WGAN_GP),
    "ct-gan": ("WGAN-GP plus the consistency term (lambda_2 2, dropout 0.2), Wei et al. 2018",
               _merge(_WGAN_GP, _CT)),
    "sngan": ("hinge loss with spectral normalisation on every critic layer, Miyato et al. 2018",
              {"objective": {"loss": "hinge"}, "lipschitz": {"spectral_norm": True}}),
    "relgan": ("RelGAN's game: relativistic standard loss (RSGAN), 5 critic steps, Nie et al. "
               "2019", {"objective": {"loss": "rsgan"}, "schedule": {"n_critic": 5}}),
    "ppo-gan": ("re-weighting + probability-ratio clipping on a WGAN-GP critic (5:5), "
                "Wu et al. 2020", _PPO),
    "ppo-gan-ct": ("ppo-gan on a CT-GAN critic", _merge(_PPO, _CT)),
    "ppo-gan-authors": ("ppo-gan as the authors' CIFAR-10 code runs it: CT critic, reference "
                        "clip, lr / 5 for G and C, C's BatchNorm in train mode, betas (0, 0.9), "
                        "linear decay, batch 32", None),
    "ppo-gan-text-authors": ("ppo-gan as the authors' text code runs it: WGAN-GP critic (5), no "
                             "re-weighting, C a second RelGAN discriminator, reference clip, one "
                             "G step per phase, beta 0.2 * 5 ** (i / 5000)", _PPO_TEXT_AUTHORS),
    "ppo-gan-reweight": ("ablation: critic sample re-weighting only, 5:1",
                         _merge(_PPO, {"schedule": {"n_gen": 1, "same_z_for_gen_steps": False},
                                       "variational": {"clip": False}})),
    "ppo-gan-clip": ("ablation: generator probability-ratio clipping only, 5:5",
                     _merge(_PPO, {"variational": {"reweight": False}})),
    # class-conditional (docs/conditional.md): G and D see the class
    "cgan-pd": ("class-conditional GAN with a projection discriminator: hinge loss, spectral "
                "norm, conditional BatchNorm in G (mimicry's cGAN-PD, Miyato & Koyama 2018)",
                _CGAN_PD),
    "acgan": ("auxiliary-classifier GAN: non-saturating loss, conditional BatchNorm in G, a "
              "class head on D, cross-entropy on real and fake (weight conditional.aux_weight), "
              "Odena et al. 2017", {"objective": {"loss": "nonsaturating"},
                                     "conditional": {"generator": "cbn", "critic": "ac"}}),
    "cgan-ppo": ("the variational method conditioned on the class: cgan-pd's networks, "
                 "WGAN-GP critic re-weighted per class, ratio clipping with C(x, y) (5:5)",
                 _merge(_PPO, {"conditional": {"generator": "cbn", "critic": "projection"}})),
}


PRESETS["ppo-gan-authors"] = (PRESETS["ppo-gan-authors"][0], _merge(_PPO, _CT, _AUTHORS))


def preset_fragment(name: str) -> dict[str, Any]:
    """A deep copy of the config fragment of method ``name``."""
    return copy.deepcopy(PRESETS[name][1])


def describe() -> list[tuple[str, str]]:
    return [(name, desc) for name, (desc, _) in PRESETS.items()]
