"""Fig. 1 (left) of Wu et al. (2020): the objective landscape along one generator update.

From a run's checkpoint (theta_old), run one generator phase of PPO-GAN to get theta_new, then for
alpha in [0, 2] set ``theta(alpha) = theta_old + alpha (theta_new - theta_old)`` and evaluate, on
one fixed latent batch z,

* the conventional WGAN generator objective ``J(alpha) = mean f(G_theta(z))`` (to maximise), and
* the clipped surrogate ``S(alpha) = mean min(r A, clip(r, 1-eps, 1+eps) A)`` with
  ``A = advantage(f(G_theta(z)))`` and ``r`` from the run's ratio estimator (C_old recorded at
  theta_old, C after the phase's classifier steps).

The surrogate flattens once the ratio leaves [1-eps, 1+eps], which is the point of the method; the
plain objective keeps rising along the update direction. A run trained without a ratio classifier
gets a fresh one, warmed up for ``classifier_steps`` steps on the run's data and G_old samples.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from stablegan.config import read_yaml
from stablegan.configure import from_dict
from stablegan.errors import ConfigError
from stablegan.methods.ppo import CLASSIFIER_RATIOS, ClassifierRatio, PPOGANMethod
from stablegan.methods.ratio import run_generator_phase
from stablegan.training.checkpoint import load_latest
from stablegan.training.trainer import Trainer, seed_everything
from stablegan.variational import advantage, clipped_loss


def surrogate_landscape(run_dir: str | Path, out_dir: str | Path | None = None,
                        alphas: int = 41, classifier_steps: int = 200) -> dict[str, Any]:
    """Write ``surrogate.png`` and ``surrogate.json`` to ``out_dir`` (default RUN/diagnose)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"'{run_dir}' is not a stablegan run directory (no config.yaml)")
    data = read_yaml(run_dir / "config.yaml")
    cfg_run = from_dict(data)
    run_ratio = cfg_run.variational.ratio
    fresh_c = not (cfg_run.variational.clip and run_ratio in CLASSIFIER_RATIOS)
    ppo = copy.deepcopy(data)
    ppo.setdefault("variational", {}).update(
        {"clip": True, "ratio": run_ratio if not fresh_c else "classifier"})
    ppo.setdefault("schedule", {})["same_z_for_gen_steps"] = True
    cfg = from_dict(ppo)
    seed_everything(cfg.seed)
    trainer = Trainer.from_config(cfg)
    method = trainer.method
    assert isinstance(method, PPOGANMethod) and isinstance(method.ratio, ClassifierRatio)
    state, path, _ = load_latest(run_dir / "checkpoints" / "last.pt")
    for name in ("G", "D"):
        method.networks[name].load_state_dict(state["networks"][name])
    if not fresh_c:
        method.C.load_state_dict(state["networks"]["C"])
        method.optimizers["C"].load_state_dict(state["optimizers"]["C"])
    method.optimizers["G"].load_state_dict(state["optimizers"]["G"])
    if fresh_c:
        for _ in range(classifier_steps):
            method.ratio.update()
    G = method.G
    theta_old = [p.detach().clone() for p in G.parameters()]
    z = method.sample_z(cfg.data.batch_size)
    # one generator phase of the method (C steps + clipped-surrogate G steps) on the same z,
    # stopped early on variational.target_kl as in training
    method.begin_generator_phase(z)
    run_generator_phase(cfg.schedule.n_gen, lambda: method.g_step(z), cfg.variational.target_kl)
    theta_new = [p.detach().clone() for p in G.parameters()]
    update_norm = float(sum(((n - o) ** 2).sum() for o, n in zip(theta_old, theta_new)) ** 0.5)
    v = cfg.variational
    grid = torch.linspace(0.0, 2.0, alphas)
    wgan, surrogate, ratio_mean, clip_frac = [], [], [], []
    with torch.no_grad():  # G stays in training mode, as during the phase
        for a in grid.tolist():
            for p, o, n in zip(G.parameters(), theta_old, theta_new):
                p.copy_(o + a * (n - o))
            x = G(z)
            f = method.critic_scores(x, "fake")
            log_r = method.ratio.log_ratio(x)
            r = log_r.exp()
            adv = advantage(f, v.advantage)
            wgan.append(f.mean().item())
            loss, _ = clipped_loss(log_r, adv, v.eps, v.clip_mode)  # Eq. 5, as training
            surrogate.append(-loss.item())
            ratio_mean.append(r.mean().item())
            lo, hi = 1 - v.eps, 1 + v.eps
            clip_frac.append(((r < lo) | (r > hi)).float().mean().item())
        for p, o in zip(G.parameters(), theta_old):
            p.copy_(o)
    out_dir = Path(out_dir) if out_dir else run_dir / "diagnose"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "run": str(run_dir), "checkpoint": str(path), "step": int(state["step"]),
        "eps": v.eps, "clip_mode": v.clip_mode, "advantage": v.advantage,
        "fresh_classifier": fresh_c, "update_norm": update_norm,
        "alpha": grid.tolist(), "wgan_objective": wgan, "clipped_surrogate": surrogate,
        "ratio_mean": ratio_mean, "ratio_outside_clip_fraction": clip_frac,
    }
    (out_dir / "surrogate.json").write_text(json.dumps(result, indent=2) + "\n")
    _plot(result, out_dir / "surrogate.png")
    return result


def _plot(result: dict[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    a = result["alpha"]
    ax1.plot(a, result["wgan_objective"], label="WGAN objective  mean f(G(z))")
    ax1.plot(a, result["clipped_surrogate"],
             label=f"clipped surrogate (eps={result['eps']}, {result['clip_mode']})")
    ax1.axvline(1.0, color="grey", ls=":", lw=1)
    ax1.set_xlabel("alpha  (theta_old + alpha (theta_new - theta_old))")
    ax1.set_ylabel("objective (higher is better for G)")
    ax1.set_title(f"objective along one generator update (step {result['step']})", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.plot(a, result["ratio_mean"], label="mean r")
    ax2.plot(a, result["ratio_outside_clip_fraction"], label="share of r outside [1-eps, 1+eps]")
    ax2.axvline(1.0, color="grey", ls=":", lw=1)
    ax2.set_xlabel("alpha")
    ax2.set_title("probability ratio along the update", fontsize=10)
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
