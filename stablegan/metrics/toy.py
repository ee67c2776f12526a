"""Mode metrics for toy mixtures (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

The protocol draws 2,500 generated samples and assigns each to its nearest mode (Euclidean). A
sample is *high quality* (HQ) when it lies within ``n_std * std`` of that mode; a mode is *covered*
when it has at least one HQ sample.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from stablegan.metrics._checks import as_matrix, check_positive_float, check_same_dim

PROTOCOL_SAMPLES = 2500  # the number of generated samples the PacGAN/VEEGAN tables use


def mode_metrics(
    samples: Tensor, modes: Tensor, std: float, n_std: float = 3.0
) -> dict[str, float]:
    """Mode count, HQ fraction and reverse KL of generated ``samples`` (N, D) to ``modes`` (K, D).

    * ``modes``: ``#{k : n_k >= 1}`` with ``n_k`` the number of HQ samples whose nearest mode is k;
    * ``hq_fraction``: ``#{i : min_k |x_i - m_k| <= n_std * std} / N``;
    * ``reverse_kl``: ``KL(p || U) = sum_k p_k log(p_k K)`` with ``p_k = n_k / sum_j n_j`` and
      ``0 log 0 = 0``. With no HQ sample at all ``p`` is undefined; the value is then ``log K``,
      the maximum of ``KL(p || U)``, reached by a generator collapsed onto a single mode, so a
      generator without any HQ sample never scores better than a collapsed one.
    """
    x = as_matrix(samples, "samples")
    m = as_matrix(modes, "modes")
    check_same_dim(x, m, "samples", "modes")
    radius = check_positive_float(std, "std") * check_positive_float(n_std, "n_std")
    k = m.shape[0]

    dist, nearest = torch.cdist(x, m, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)
    hq = dist <= radius
    counts = torch.bincount(nearest[hq], minlength=k).to(torch.float64)
    n_hq = float(counts.sum())
    if n_hq == 0:
        reverse_kl = math.log(k)
    else:
        p = counts[counts > 0] / n_hq
        reverse_kl = float((p * torch.log(p * k)).sum())
    return {
        "modes": float((counts > 0).sum()),
        "hq_fraction": float(hq.to(torch.float64).mean()),
        "reverse_kl": reverse_kl,
    }

