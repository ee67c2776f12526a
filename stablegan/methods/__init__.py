"""Methods: the maths of one training iteration (critic phase, generator phase).

``GANMethod`` composes the classic toolkit; ``PPOGANMethod`` swaps in the clipped-surrogate
generator phase of Wu et al. (2020); ``StyleMethod`` trains the style task's autoencoder under
any objective preset. ``presets`` names config fragments over all of them.

:func:`method_for` is the one place that chooses the method class of a config and a task: the
trainer builds it (:func:`build_method`) and ``stablegan compare`` reads its
``updates_per_iteration`` for equal-compute budgets, so the two always agree.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from stablegan.config import Config
from stablegan.errors import ConfigError
from stablegan.methods.gan import GANMethod, NonFiniteError
from stablegan.methods.ppo import ClassifierRatio, ExactRatio, PPOGANMethod
from stablegan.methods.presets import PRESETS, describe, preset_fragment
from stablegan.methods.style import StyleMethod

# task name -> the method class that task trains with under every objective preset (a task not
# named here trains with the classic method, or PPO-GAN when variational.clip is on)
TASK_METHODS: dict[str, type[GANMethod]] = {"style": StyleMethod}

__all__ = ["GANMethod", "PPOGANMethod", "StyleMethod", "ClassifierRatio", "ExactRatio",
           "NonFiniteError", "TASK_METHODS", "build_method", "method_for", "register_method",
           "PRESETS", "describe", "preset_fragment"]


def register_method(task: str, cls: type[GANMethod], *, overwrite: bool = False) -> None:
    """Make the task named ``task`` train with ``cls`` (a :class:`GANMethod` subclass whose
    constructor takes ``(cfg, generator, discriminator, task, device, classifier)``)."""
    if task in TASK_METHODS and not overwrite:
        raise ConfigError(f"task '{task}' already has a method ({TASK_METHODS[task].__name__})",
                          hint="pass overwrite=True to replace it")
    TASK_METHODS[task] = cls


def method_for(cfg: Config, task: Any) -> type[GANMethod]:
    """The method class that trains ``task`` (a Task, a Task class or a task name) under
    ``cfg``: the task's own method when it has one (:data:`TASK_METHODS`), else PPO-GAN when
    ratio clipping is on (``variational.clip``), else the classic :class:`GANMethod`."""
    name = task if isinstance(task, str) else getattr(task, "name", None)
    own = TASK_METHODS.get(str(name))
    if own is not None:
        return own
    return PPOGANMethod if cfg.variational.clip else GANMethod


def build_method(cfg: Config, generator: nn.Module, discriminator: nn.Module, task: Any,
                 device: torch.device | str = "cpu",
                 classifier: nn.Module | None = None) -> GANMethod:
    """An instance of :func:`method_for` ``(cfg, task)`` over ``task``."""
    cls = method_for(cfg, task)
    if cls is GANMethod:
        return GANMethod(cfg, generator, discriminator, task, device)
    return cls(cfg, generator, discriminator, task, device, classifier)  # type: ignore[call-arg]
