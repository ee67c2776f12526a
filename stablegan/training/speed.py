"""Speed options of the trainer that change no maths: ``model.compile``.

``model.compile`` is refused for text generators (:func:`check_compilable`; the config check
refuses it for text data before any work): torch.compile of the token-by-token generation loop
recompiled for the 16-sentence sample batch and then failed inside ``torch.rand`` at the first
sample step, and where it ran it was slower than eager (issue 18). The text iteration's speed-ups
(token ids, unfold + addmm, a frozen critic, one Gumbel draw) need no compiler.
"""

from __future__ import annotations

from typing import Any

import torch

from stablegan.errors import ConfigError

TEXT_COMPILE_MESSAGE = ("model.compile=true is not supported for text generators: the compiled "
                        "token-by-token loop fails at the first sample step (a recompile for the "
                        "sample batch breaks torch.rand) and runs slower than eager where it runs")
TEXT_COMPILE_HINT = "set model.compile=false (text runs eager)"


def check_compilable(method: Any) -> None:
    """ConfigError when ``model.compile`` cannot work for ``method``'s networks (text
    generators)."""
    from stablegan.models.text import TextGenerator

    for name, net in method.networks.items():
        if any(isinstance(m, TextGenerator) for m in net.modules()):
            raise ConfigError(f"{TEXT_COMPILE_MESSAGE} (network {name}, "
                              f"{type(net).__name__})", hint=TEXT_COMPILE_HINT)


def compile_networks(method: Any) -> None:
    """``model.compile``: torch.compile G's and D's forward in place (parameters, state-dict
    keys and checkpoints unchanged). D keeps its eager forward for the gradient penalty, whose
    double backward compiled code does not support. Refused for text (:func:`check_compilable`)."""
    check_compilable(method)
    for name in ("G", "D"):
        net = method.networks[name]
        eager = net.forward
        if name == "D":
            net._stablegan_eager = eager  # type: ignore[assignment]
        net.forward = torch.compile(eager)  # type: ignore[method-assign]
