"""One PPO (issue 20.5): one clipped-loss helper, one ratio-classifier class, for every method.

Closed forms for ``variational.clipped_loss`` in both clip modes, Eq. 5's single call site in the
package (an AST walk), the ratio estimator shared by PPO-GAN and the style method (log r = 0 at
theta = theta_old for ``classifier_same_x``), the style method's loss against the helper, and the
``variational.*`` options the style task now takes (or refuses with a ConfigError).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from test_style import cfg_for, write_corpus

import stablegan
from stablegan.errors import ConfigError
from stablegan.methods.ratio import MAX_LOG_RATIO, ClassifierRatio, run_generator_phase
from stablegan.training.trainer import Trainer
from stablegan.variational import advantage, clipped_loss

PACKAGE = Path(stablegan.__file__).parent
EPS = 0.2
# r = (0.5, 0.9, 1.5, 0.5), A = (1, -2, 0.5, -1): the third sample is clipped above (A > 0), the
# fourth below (A < 0); the first two are inside the trust region's active side
R = torch.tensor([0.5, 0.9, 1.5, 0.5])
A = torch.tensor([1.0, -2.0, 0.5, -1.0])


def _calls(name: str) -> list[str]:
    """``file:line`` of every call of a function called ``name`` in the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if called == name:
                    out.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return out


# ------------------------------------------------------------------------------ the helper
def test_clipped_loss_paper_mode_by_hand() -> None:
    """min(r A, clip(r, 0.8, 1.2) A) = (0.5, -1.8, 0.6, -0.8): loss 0.375, two of four clip."""
    loss, stats = clipped_loss(R.log(), A, EPS, "paper")
    assert loss.item() == pytest.approx(-(0.5 - 1.8 + 0.6 - 0.8) / 4, rel=1e-6)
    assert stats["ratio/clip_fraction"].item() == pytest.approx(0.5)
    assert stats["ratio/mean"].item() == pytest.approx(R.mean().item(), rel=1e-6)
    kl = sum((r - 1) - math.log(r) for r in R.tolist()) / 4
    assert stats["ratio/approx_kl"].item() == pytest.approx(kl, rel=1e-5)


def test_clipped_loss_reference_mode_by_hand() -> None:
    """The authors' A min(r, 1.2) = (0.5, -1.8, 0.6, -0.5): loss 0.3, only r = 1.5 clips."""
    loss, stats = clipped_loss(R.log(), A, EPS, "reference")
    assert loss.item() == pytest.approx(-(0.5 - 1.8 + 0.6 - 0.5) / 4, rel=1e-6)
    assert stats["ratio/clip_fraction"].item() == pytest.approx(0.25)


def test_clipped_loss_gradient_clamp_and_detached_ratio() -> None:
    """d loss / d log r_i = -A_i r_i / B where the surrogate is r A (unclipped), 0 where it
    is clipped; with ratio_gradient=False no gradient reaches log r; a log ratio past
    MAX_LOG_RATIO is clamped (a finite loss, the statistics of the unclamped value)."""
    log_r = R.log().requires_grad_(True)
    loss, _ = clipped_loss(log_r, A, EPS, "paper")
    (g,) = torch.autograd.grad(loss, log_r)
    want = torch.tensor([-1.0 * 0.5, 2.0 * 0.9, 0.0, 0.0]) / 4
    torch.testing.assert_close(g, want)
    adv = A.clone().requires_grad_(True)
    loss, _ = clipped_loss(log_r, adv, EPS, "paper", ratio_gradient=False)
    g_lr, g_a = torch.autograd.grad(loss, [log_r, adv], allow_unused=True)
    assert g_lr is None or torch.equal(g_lr, torch.zeros(4))
    # r only picks the branch: -coef / B with coef r (inside) or the clip bound (outside)
    torch.testing.assert_close(g_a, -torch.tensor([0.5, 0.9, 1.2, 0.8]) / 4)
    big = torch.tensor([MAX_LOG_RATIO + 30.0, 0.0])
    # paper mode, A = -1: min(r A, clip(r) A) = -r, the unclipped branch with r = exp(20)
    loss, stats = clipped_loss(big, torch.tensor([-1.0, 1.0]), EPS, "paper")
    assert loss.item() == pytest.approx(-(-math.exp(MAX_LOG_RATIO) + 1.0) / 2, rel=1e-5)
    # the statistics see the unclamped r = exp(50): E[(r - 1) - log r] = (e^50 - 51 + 0) / 2
    assert stats["ratio/approx_kl"].item() == pytest.approx(math.exp(50.0) / 2, rel=1e-4)


def test_eq5_has_one_call_site_and_max_log_ratio_one_definition() -> None:
    """clipped_surrogate is called once in the package (inside clipped_loss), every method
    goes through clipped_loss, MAX_LOG_RATIO is assigned once, and log_ratio is defined by the
    estimators of methods/ratio.py only."""
    assert _calls("clipped_surrogate") == ["variational.py:" + str(_line_of_call())]
    users = {site.split(":")[0] for site in _calls("clipped_loss")}
    assert {"methods/ppo.py", "methods/style.py"} <= users
    assigned, log_ratio_defs = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "MAX_LOG_RATIO" for t in targets):
                    assigned.append(str(path.relative_to(PACKAGE)))
            if isinstance(node, ast.ClassDef):
                if any(isinstance(b, ast.FunctionDef) and b.name == "log_ratio"
                       for b in node.body):
                    log_ratio_defs.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    assert assigned == ["variational.py"]
    assert sorted(log_ratio_defs) == ["methods/ratio.py:ClassifierRatio",
                                      "methods/ratio.py:ExactRatio"]


def _line_of_call() -> int:
    tree = ast.parse((PACKAGE / "variational.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "clipped_loss")
    return next(n.lineno for n in ast.walk(fn) if isinstance(n, ast.Call)
                and getattr(n.func, "id", None) == "clipped_surrogate")


def test_generator_phase_stops_past_target_kl() -> None:
    """run_generator_phase: the step whose approx-KL passes target_kl is the last one taken."""
    kls = iter([0.001, 0.05, 0.2, 0.3])

    def step() -> dict:
        return {"ratio/approx_kl": torch.tensor(next(kls)), "ratio/mean": torch.tensor(1.0)}

    out = run_generator_phase(4, step, target_kl=0.01)
    assert len(out) == 2 and out[-1]["ppo/gen_steps"] == 2.0 and out[-1]["ppo/early_stop"] == 1.0
    assert run_generator_phase(1, lambda: {}, 0.0)[-1]["ppo/gen_steps"] == 1.0


# ------------------------------------------------------------------------------ the ratio class
def test_classifier_ratio_same_x_is_one_at_theta_old_and_moves_with_c() -> None:
    """classifier_same_x: r = 1 exactly at theta_old (C^(t) is a copy of C); after one BCE
    step of C (fit), log r = l^(t)(x) - l(x) with the step's own logits."""
    torch.manual_seed(0)
    C = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(C.parameters(), lr=0.5)

    def step(name: str, loss: torch.Tensor, terms: dict, max_norm: float = 0.0) -> None:
        opt.zero_grad()
        loss.backward()
        opt.step()

    method = SimpleNamespace(step=step, cfg=SimpleNamespace(optim=SimpleNamespace(c_grad_clip=0)))
    ratio = ClassifierRatio(method, C, same_x=True)
    x = torch.randn(16, 3)
    ratio.record(None)
    assert torch.equal(ratio.log_ratio(x), torch.zeros(16))
    real, fake = torch.randn(16, 3) + 1.0, torch.randn(16, 3)
    with torch.no_grad():
        before = C(torch.cat([real, fake])).reshape(-1)
    stats = ratio.fit(real, fake)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    want = bce(before[:16], torch.ones(16)) + bce(before[16:], torch.zeros(16))
    assert stats["classifier/loss"].item() == pytest.approx(want.item(), rel=1e-6)
    assert ratio.C_old is not None
    with torch.no_grad():
        torch.testing.assert_close(ratio.log_ratio(x), (ratio.C_old(x) - C(x)).reshape(-1))
    assert not torch.equal(ratio.log_ratio(x), torch.zeros(16))


# ------------------------------------------------------------------------------ the style method
def _style(tmp_path: Path, *extra: str, **kw) -> Trainer:
    return Trainer.from_config(cfg_for(write_corpus(tmp_path), "method=ppo-gan", *extra, **kw))


def test_style_method_uses_the_shared_ratio_and_loss(tmp_path: Path) -> None:
    """The style method's R and RS are ClassifierRatio estimators, and its adversarial term
    under clipping is exactly variational.clipped_loss on the same scores and log ratio."""
    m = _style(tmp_path, "style.sentence_critic=true").method
    assert isinstance(m.ratio, ClassifierRatio) and m.ratio.C is m.R and m.ratio.name == "R"
    assert isinstance(m.sentence_ratio, ClassifierRatio) and m.sentence_ratio.C is m.RS
    s = torch.tensor([0.5, -1.0, 2.0, 0.1])
    log_r = torch.tensor([0.1, -0.4, 0.3, 0.0])
    loss, stats = m.adversarial_term(s, log_r)
    v = m.cfg.variational
    want, want_stats = clipped_loss(log_r, advantage(s, v.advantage), v.eps, v.clip_mode)
    assert torch.equal(loss, want)
    assert {k: x.item() for k, x in stats.items()} == {k: x.item() for k, x in want_stats.items()}


@pytest.mark.parametrize("adversary", ["style", "prior"])
def test_style_same_x_ratio_is_one_at_theta_old(tmp_path: Path, adversary: str) -> None:
    """variational.ratio=classifier_same_x on the style task: once the phase has begun (frozen
    copies of R and RS taken, before any further R step) log r = 0 exactly for R at any codes
    and for RS at any soft sentences, under both latent adversaries."""
    m = _style(tmp_path, "variational.ratio=classifier_same_x", "style.sentence_critic=true",
               f"style.adversary={adversary}").method
    assert m.ratio is not None and m.ratio.same_x and m.sentence_ratio is not None
    source = m.batch(m.batch_size)
    targets = m.other_styles(source[:, -1].long())
    m.begin_ratio_phase(source, targets)
    with torch.no_grad():
        z = m.G.encode(source[:, :-1])
        soft = torch.rand(m.batch_size, m.data.max_len, m.data.vocab_size).softmax(-1)
    assert torch.equal(m.ratio.log_ratio(z), torch.zeros(m.batch_size))
    assert torch.equal(m.sentence_ratio.log_ratio(soft, targets), torch.zeros(m.batch_size))


def test_style_per_phase_first_step_is_the_plain_advantage(tmp_path: Path) -> None:
    """classifier (the authors' log r = R_old(z_old) - R(z)) with per_phase: the phase's R steps
    come first, then R is fixed and C_old recorded, so the first generator step has r = 1 at
    theta_old: its clipped loss is -mean(A) = -critic/g_fake (raw advantage), nothing clips."""
    m = _style(tmp_path, "variational.classifier_schedule=per_phase", "style.sentence_critic=false",
               "schedule.n_critic=1", "schedule.n_gen=3", "style.adversary=prior").method
    source = m.batch(m.batch_size)
    targets = m.other_styles(source[:, -1].long())
    before = m.counts["R"]
    m.begin_ratio_phase(source, targets)
    assert m.counts["R"] == before + 3  # the phase's three R steps, before G moves
    stats = m.ratio.before_step()
    assert set(stats) == {"classifier/ratio_loss", "classifier/ratio_accuracy"}
    assert m.counts["R"] == before + 3  # handed out, not taken again
    stats.update(m.g_step(source, targets))
    assert stats["ratio/mean"].item() == pytest.approx(1.0, abs=1e-6)
    assert stats["ratio/clip_fraction"].item() == 0.0
    assert stats["loss/adv"].item() == pytest.approx(-stats["critic/g_fake"].item(), rel=1e-5)


def test_style_stats_stay_tensors_until_logged(tmp_path: Path) -> None:
    """Every value of a style step's stats is a tensor (no host sync per step) except the
    Gumbel temperature, a float of the schedule."""
    m = _style(tmp_path, "style.sentence_critic=true").method
    stats = m.iteration(0)
    floats = sorted(k for k in stats if not isinstance(stats[k], torch.Tensor))
    assert floats == ["ppo/early_stop", "ppo/gen_steps", "style/tau"]
    ae = m.autoencoder_step(0)
    assert all(isinstance(v, torch.Tensor) for v in ae.values()), ae


def test_style_own_classifier_reaches_the_metric_without_the_task(tmp_path: Path) -> None:
    """The own classifier goes through method.evaluation_models(), not an attribute of the
    task, and own_accuracy is computed from it."""
    t = _style(tmp_path, "eval.metrics=[own_accuracy]", "eval.n_samples=2")
    assert t.method.evaluation_models() == {"own_classifier": t.method.C}
    assert not hasattr(t.task, "own_classifier")
    out = t.evaluate(final=False)
    assert 0.0 <= out["own_accuracy"] <= 1.0


def test_style_takes_the_ratio_options(tmp_path: Path) -> None:
    """classifier_warmup (R steps in the warm-up phase, RS too), classifier_lr_divide (G and
    the ratio classifiers at lr / n_gen), target_kl (the phase stops after the first step
    whose approx-KL passes it) and classifier_bn=authors all apply to the style task."""
    t = _style(tmp_path, "variational.classifier_warmup=2", "variational.classifier_lr_divide=true",
               "variational.classifier_bn=authors", "style.sentence_critic=true",
               "schedule.n_gen=4")
    m = t.method
    phases = {p.name: p for p in m.phases(2)}
    assert phases["warmup"].steps == 2 and set(phases["warmup"].networks) == {"D", "R", "RS"}
    stats = phases["warmup"].step(0, False)
    assert m.counts["R"] == 1 and m.counts["RS"] == 1 and m.counts["D"] == 0
    assert {"classifier/ratio_loss", "sentence/ratio_loss"} <= set(stats)
    c = t.cfg
    assert m.optimizers["G"].param_groups[0]["lr"] == pytest.approx(c.optim.g_lr / 4)
    for name in ("R", "RS"):
        assert m.optimizers[name].param_groups[0]["lr"] == pytest.approx(c.optim.c_lr / 4)
    assert m.ratio.bn == "authors" and m.sentence_ratio.bn == "authors"
    stop = _style(tmp_path / "kl", "variational.target_kl=1e-12", "schedule.n_gen=4",
                  "style.adversary=prior").method
    g = stop.counts["G"]
    out = stop.g_phase()
    assert stop.counts["G"] == g + 1 and out[0]["ppo/gen_steps"] == 1.0
    assert out[0]["ppo/early_stop"] == 1.0


@pytest.mark.parametrize("extra,match", [
    (["variational.ratio=exact"], "tractable likelihood"),
    (["variational.classifier_schedule=per_phase", "style.sentence_critic=true"], "per_phase")])
def test_style_refuses_the_ratio_options_that_cannot_apply(tmp_path: Path, extra: list[str],
                                                           match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        _style(tmp_path, *extra)
    assert err.value.hint


def test_style_without_clipping_ignores_the_ratio_keys(tmp_path: Path) -> None:
    """Without variational.clip the ratio keys do not apply (as for GANMethod): no R, no
    refusal."""
    m = Trainer.from_config(cfg_for(write_corpus(tmp_path), "method=nsgan",
                                    "variational.ratio=exact")).method
    assert m.ratio is None and "R" not in m.networks
