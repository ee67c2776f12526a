"""How many threads torch uses for a run's CPU maths, chosen deliberately (issue 19).

In this order:

1. the ``threads`` config key (``--threads N`` on the command line sets it): the run's own
   setting, recorded in its config.yaml;
2. ``OMP_NUM_THREADS`` from the environment (torchrun sets it to 1 for each of its processes);
3. otherwise :data:`DEFAULT_THREADS`, measured to be right for the networks the recipes train
   (docs/benchmarks.md "Torch threads": the toy MLPs, the text generators and the digits CNN
   step no faster, or slower, at two threads than at one; torch's own default, one thread per
   core, doubled the step time of a text run on a loaded 2-core machine).

The thread count changes no formula, and the run's first line names it with where it came
from.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

DEFAULT_THREADS = 1


def choose_threads(configured: int, env: Mapping[str, str]) -> tuple[int, str]:
    """``(threads, where the number comes from)`` for a run whose ``threads`` key is
    ``configured`` (0: not set) in the environment ``env``."""
    if configured > 0:
        return configured, f"threads={configured}"
    raw = env.get("OMP_NUM_THREADS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n > 0:
            return n, f"OMP_NUM_THREADS={n}"
    return DEFAULT_THREADS, "the default for these networks; --threads N to change"


def apply_threads(configured: int, env: Mapping[str, str]) -> tuple[int, str]:
    """Choose the thread count (:func:`choose_threads`) and set it in torch."""
    n, source = choose_threads(configured, env)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n, source
