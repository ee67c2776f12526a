"""Speed options of the trainer that change no maths: ``model.compile``."""

from __future__ import annotations

from typing import Any

import torch


def compile_networks(method: Any) -> None:
    """``model.compile``: torch.compile G's and D's forward in place (parameters, state-dict
    keys and checkpoints unchanged). D keeps its eager forward for the gradient penalty, whose
    double backward compiled code does not support."""
    for name in ("G", "D"):
        net = method.networks[name]
        eager = net.forward
        if name == "D":
            net._stablegan_eager = eager  # type: ignore[assignment]
        net.forward = torch.compile(eager)  # type: ignore[method-assign]
