"""Methods: the maths of one training iteration (critic phase, generator phase).

``GANMethod`` composes the classic toolkit; ``PPOGANMethod`` swaps in the clipped-surrogate
generator phase of Wu et al. (2020); ``StyleMethod`` trains the style task's autoencoder under
any objective preset. ``presets`` names config fragments over all of them.

:func:`method_for` is the one place that chooses the method class of a config and a task: the
trainer builds it (:func:`build_method`) and ``stablegan compare`` reads its
``updates_per_iteration`` for equal-compute budgets, so the two always agree.

The classes are imported when first used (PEP 562 ``__getattr__``), so reading the presets
(config resolution, ``stablegan methods``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    import torch
    from torch import nn

    from stablegan.config import Config
    from stablegan.methods.conditional import ConditionalGANMethod, ConditionalPPOMethod
    from stablegan.methods.gan import GANMethod, NonFiniteError
    from stablegan.methods.ppo import PPOGANMethod
    from stablegan.methods.presets import PRESETS, describe, preset_fragment
    from stablegan.methods.ratio import ClassifierRatio, ExactRatio
    from stablegan.methods.style import StyleMethod

# public name -> the module that defines it (tests/test_layers.py reads this table)
_LAZY = {
    "GANMethod": "stablegan.methods.gan",
    "NonFiniteError": "stablegan.methods.gan",
    "PPOGANMethod": "stablegan.methods.ppo",
    "ClassifierRatio": "stablegan.methods.ratio",
    "ExactRatio": "stablegan.methods.ratio",
    "StyleMethod": "stablegan.methods.style",
    "ConditionalGANMethod": "stablegan.methods.conditional",
    "ConditionalPPOMethod": "stablegan.methods.conditional",
    "PRESETS": "stablegan.methods.presets",
    "describe": "stablegan.methods.presets",
    "preset_fragment": "stablegan.methods.presets",
}
# the tasks that train with a method of their own under every objective preset
BUILT_IN_TASK_METHODS = {"style": "StyleMethod"}
# methods given to tasks with register_method (they win over the built-in choice)
TASK_METHODS: dict[str, type[GANMethod]] = {}

__all__ = ["GANMethod", "PPOGANMethod", "StyleMethod", "ClassifierRatio", "ExactRatio",
           "ConditionalGANMethod", "ConditionalPPOMethod", "NonFiniteError", "TASK_METHODS",
           "build_method", "method_for", "register_method", "PRESETS", "describe",
           "preset_fragment"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stablegan.methods' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def register_method(task: str, cls: type[GANMethod], *, overwrite: bool = False) -> None:
    """Make the task named ``task`` train with ``cls`` (a :class:`GANMethod` subclass whose
    constructor takes ``(cfg, generator, discriminator, task, device, classifier)``)."""
    from stablegan.errors import ConfigError

    if (task in TASK_METHODS or task in BUILT_IN_TASK_METHODS) and not overwrite:
        current = TASK_METHODS.get(task) or __getattr__(BUILT_IN_TASK_METHODS[task])
        raise ConfigError(f"task '{task}' already has a method ({current.__name__})",
                          hint="pass overwrite=True to replace it")
    TASK_METHODS[task] = cls


def _conditional(cfg: Config, task: Any) -> bool:
    """Whether G and D see the class: the task's own answer when ``task`` is a Task, else the
    config's (``conditional.*``; a Task is conditional exactly when its config is)."""
    own = None if isinstance(task, (str, type)) else getattr(task, "conditional", None)
    if isinstance(own, bool):
        return own
    cond = getattr(cfg, "conditional", None)
    return bool(cond is not None and cond.enabled)


def method_for(cfg: Config, task: Any) -> type[GANMethod]:
    """The method class that trains ``task`` (a Task, a Task class or a task name) under
    ``cfg``: the conditional form of PPO-GAN or the classic method when G and D see the class
    (``conditional.*``); else the task's own method when it has one (:func:`register_method`,
    or the built-in ``StyleMethod`` of the style task); else PPO-GAN when ratio clipping is on
    (``variational.clip``), else the classic :class:`GANMethod`."""
    from stablegan.methods.conditional import ConditionalGANMethod, ConditionalPPOMethod
    from stablegan.methods.gan import GANMethod
    from stablegan.methods.ppo import PPOGANMethod
    from stablegan.methods.style import StyleMethod

    if _conditional(cfg, task):
        return ConditionalPPOMethod if cfg.variational.clip else ConditionalGANMethod
    name = str(task if isinstance(task, str) else getattr(task, "name", None))
    own = TASK_METHODS.get(name) or {"StyleMethod": StyleMethod}.get(
        BUILT_IN_TASK_METHODS.get(name, ""))
    if own is not None:
        return own
    return PPOGANMethod if cfg.variational.clip else GANMethod


def build_method(cfg: Config, generator: nn.Module, discriminator: nn.Module, task: Any,
                 device: torch.device | str = "cpu",
                 classifier: nn.Module | None = None) -> GANMethod:
    """An instance of :func:`method_for` ``(cfg, task)`` over ``task``."""
    from stablegan.methods.conditional import ConditionalGANMethod
    from stablegan.methods.gan import GANMethod

    cls = method_for(cfg, task)
    if cls in (GANMethod, ConditionalGANMethod):  # no ratio classifier to take
        return cls(cfg, generator, discriminator, task, device)
    return cls(cfg, generator, discriminator, task, device, classifier)  # type: ignore[call-arg]
