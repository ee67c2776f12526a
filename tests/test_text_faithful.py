"""Text faithful to the reference code (issue 18): the exact-ratio advantage on the critic's own
input, RelGAN's temperature over a fixed N, NLL_gen on the training data, PPO's KL stop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stablegan import Trainer
from stablegan.objectives import per_sample
from stablegan.recipes import load_config

TINY = ["data.oracle_train=256", "data.oracle_test=128", "data.max_len=6", "data.batch_size=16",
        "model.head_size=8", "model.num_rep=4", "model.d_embed_dim=8", "model.d_filters=8",
        "model.embed_dim=8", "eval.n_samples=40", "log.progress=false",
        "log.tensorboard=false", "log.every=1"]


@pytest.fixture()
def oracle_cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))

    def make(*extra: str, steps: int = 3):
        return load_config("oracle", overrides=[*TINY, *extra], steps=steps)

    return make


EXACT = ("method=ppo-gan", "variational.ratio=exact", "variational.reweight=false")


@pytest.mark.slow
def test_exact_ratio_advantage_scores_the_relaxed_sample_the_critic_trains_on(oracle_cfg):
    t = Trainer.from_config(oracle_cfg(*EXACT, "variational.advantage=raw"))
    m = t.method
    for _ in range(10):  # a critic that tells relaxed fakes from real one-hots a little
        m.d_step()
    m.D.eval()  # no dropout: the scores below are deterministic functions of the input
    m.G.beta = 0.5
    z = m.sample_z(16)
    with torch.no_grad():
        torch.manual_seed(7)
        o_ref, y_ref = m.G.relaxed_sample(16)
        torch.manual_seed(7)
        y_sample = m.G.sample(16)
    assert torch.equal(y_ref, y_sample)  # the phase draws the sentences sample() would
    torch.manual_seed(7)
    m.begin_generator_phase(z)
    x_old = m.ratio.samples(z)
    assert torch.equal(x_old, y_ref)
    assert torch.equal(o_ref.argmax(-1), x_old)
    loss, _, stats = m.generator_loss(z, x_old)
    with torch.no_grad():
        relaxed = per_sample(m.D(o_ref))
        hard = per_sample(m.D(F.one_hot(x_old, m.task.vocab_size).float()))
    # theta = theta_old: r = 1, so with the raw advantage L_G = -mean A = -mean D(relaxed)
    assert float(stats["ratio/mean"]) == pytest.approx(1.0, abs=1e-6)
    assert float(loss) == pytest.approx(-float(relaxed.mean()), rel=1e-6, abs=1e-7)
    assert float(stats["critic/g_fake"]) == pytest.approx(float(relaxed.mean()), rel=1e-6)
    # today's code scored the exact one-hots, a different input with a different score
    gap = abs(float(relaxed.mean()) - float(hard.mean()))
    assert gap > 1e-4 and abs(float(loss) + float(hard.mean())) > 100 * abs(
        float(loss) + float(relaxed.mean()))
    assert torch.equal(m.ratio.critic_input(), o_ref)  # kept beside the token ids


def test_nll_gen_on_the_training_set_counts_every_position_by_hand():
    """A generator whose next-token distribution is p = (0.1, 0.2, 0.3, 0.4) whatever the prefix
    (output weights 0, biases log p): the per-token NLLs are sums of -log p by hand."""
    from types import SimpleNamespace

    from stablegan.metrics.registry import Context, Side, get_metric
    from stablegan.models.text import LSTMGenerator

    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    G = LSTMGenerator(4, 3, embed_dim=2, hidden_dim=2)
    with torch.no_grad():
        G.out.weight.zero_()
        G.out.bias.copy_(p.log())
    train = torch.tensor([[3, 2, 0], [3, 3, 2]])  # <pad>=0, <eos>=2: padding counts
    test = torch.tensor([[2, 0, 0]])
    data = SimpleNamespace(reals=lambda n, split: {"train": train, "holdout": test}[split])
    task = SimpleNamespace(data=data, has_specials=True)
    ctx = Context(None, {"generator": G}, task=task)
    out = get_metric("nll_gen").compute(Side("fake", test), Side("ref", test), ctx)
    L = [-torch.log(p[i]).item() for i in range(4)]
    assert out["nll_gen"] == pytest.approx((L[3] + L[2] + L[0] + L[3] + L[3] + L[2]) / 6)
    assert out["nll_gen_test"] == pytest.approx((L[2] + 2 * L[0]) / 3)
    assert out["nll_gen_test_unpadded"] == pytest.approx(L[2])  # up to the first <eos>
    task.has_specials = False  # the oracle: no specials, no unpadded variant
    out = get_metric("nll_gen").compute(Side("fake", test), Side("ref", test), ctx)
    assert set(out) == {"nll_gen", "nll_gen_test"}


class _G:
    beta = 1.0


def _beta(cfg, index: int, total: int) -> float:
    from types import SimpleNamespace

    from stablegan.tasks.text import TextTask

    method = SimpleNamespace(G=_G())
    TextTask.before_iteration(SimpleNamespace(cfg=cfg), method, index, total)
    return method.G.beta


@pytest.mark.parametrize("schedule", ["exp", "lin", "log", "sigmoid", "quad", "sqrt", "const"])
def test_temperature_over_a_fixed_n_matches_relgan_closed_forms(schedule):
    import math

    cfg = load_config("coco", overrides=[f"model.beta_schedule={schedule}"])
    assert cfg.model.beta_steps == 5000 and cfg.model.beta_scale == 1.0  # RelGAN's defaults
    b, N = 100.0, 5000
    closed = {"exp": lambda i: b ** (i / N),
              "lin": lambda i: 1 + (b - 1) * i / (N - 1),
              "log": lambda i: 1 + (b - 1) * math.log(i + 1) / math.log(N),
              "sigmoid": lambda i: 1 + (b - 1) / (1 + math.exp((N / 2 - i) * 20 / N)),
              "quad": lambda i: 1 + (b - 1) * i ** 2 / (N - 1) ** 2,
              "sqrt": lambda i: 1 + (b - 1) * math.sqrt(i / (N - 1)),
              "const": lambda i: b}[schedule]
    for i in (0, 1, 150, 2999, 4999):
        # the run's length (300 here) does not change beta: N is RelGAN's fixed 5,000
        assert _beta(cfg, i, 300) == pytest.approx(closed(i), rel=1e-12)


def test_temperature_over_the_run_and_the_authors_scale():
    cfg = load_config("coco", overrides=["model.beta_steps=0"])  # N = the run's steps
    assert _beta(cfg, 150, 300) == pytest.approx(100 ** 0.5)  # 10.0 where RelGAN has 1.148
    assert _beta(load_config("coco"), 150, 300) == pytest.approx(100 ** (150 / 5000))
    authors = load_config("coco", overrides=["method=ppo-gan-text-authors"])
    assert authors.model.beta_max == 5.0 and authors.model.beta_scale == 0.2
    for i in (0, 1500, 3000):
        assert _beta(authors, i, 3000) == pytest.approx(0.2 * 5 ** (i / 5000), rel=1e-12)
    assert _beta(authors, 3000, 3000) == pytest.approx(0.5253, abs=1e-4)


def test_text_authors_preset_and_per_method_recipe_settings():
    from stablegan.errors import ConfigError

    cfg = load_config("oracle", overrides=["method=ppo-gan-text-authors"])
    v, s = cfg.variational, cfg.schedule
    assert (v.clip, v.reweight, v.clip_mode, v.ratio, v.advantage, v.eps) == (
        True, False, "reference", "classifier", "raw", 0.4)
    assert (s.n_critic, s.n_gen, s.same_z_for_gen_steps) == (5, 1, True)
    assert cfg.objective.loss == "wasserstein" and cfg.lipschitz.gradient_penalty.weight == 5.0
    assert cfg.optim.c_grad_clip == 5.0 and cfg.model.beta_max == 5.0  # the recipe says 1.0
    # --set still wins over the recipe's per-method settings; other methods keep the recipe's
    assert load_config("oracle", overrides=["method=ppo-gan-text-authors",
                                            "model.beta_max=7"]).model.beta_max == 7.0
    assert load_config("oracle", overrides=["method=relgan"]).model.beta_max == 1.0
    with pytest.raises(ConfigError, match="per_method names unknown method 'ppo-gam'"):
        from stablegan.configure import resolve
        resolve([{"method": "relgan", "per_method": {"ppo-gam": {}}}])


def _phase(oracle_cfg, *extra: str):
    cfg = oracle_cfg(*EXACT, "variational.advantage=centered", "schedule.n_gen=5",
                     "optim.g_lr=0.05", *extra)
    m = Trainer.from_config(cfg).method
    g0 = m.counts["G"]
    out = m.g_phase()
    return m, out, m.counts["G"] - g0


@pytest.mark.slow
def test_target_kl_stops_the_phase_after_the_step_that_passed_it(oracle_cfg):
    _, free, taken = _phase(oracle_cfg)
    kls = [float(s["ratio/approx_kl"]) for s in free]
    assert taken == 5 and free[-1]["ppo/gen_steps"] == 5.0 and free[-1]["ppo/early_stop"] == 0.0
    assert kls[0] == pytest.approx(0.0, abs=1e-6) and max(kls[1:]) > 0  # G moved
    # the exact ratio is 1 at the first inner step (theta = theta_old); last: after 4 steps
    assert abs(float(free[-1]["ratio/first_mean"]) - 1.0) < 1e-6
    assert float(free[-1]["ratio/last_mean"]) == float(free[4]["ratio/mean"])
    target = kls[1] / 2  # passed at the second step (k = 1): steps 3-5 are skipped
    m, out, taken = _phase(oracle_cfg, f"variational.target_kl={target}")
    assert taken == 2 and len(out) == 2
    assert out[-1]["ppo/gen_steps"] == 2.0 and out[-1]["ppo/early_stop"] == 1.0
    # the same trajectory up to the stop (the same seed, the same draws)
    assert [float(s["ratio/approx_kl"]) for s in out] == kls[:2]
    # a target no step reaches changes nothing
    _, out, taken = _phase(oracle_cfg, "variational.target_kl=1e9")
    assert taken == 5 and [float(s["ratio/approx_kl"]) for s in out] == kls


@pytest.mark.slow
def test_phase_stats_reach_the_logged_iteration(oracle_cfg):
    t = Trainer.from_config(oracle_cfg(*EXACT, "schedule.n_gen=3"))
    stats = t.method.iteration(0)
    assert stats["ppo/gen_steps"] == 3.0 and stats["ppo/early_stop"] == 0.0
    assert abs(float(stats["ratio/first_mean"]) - 1.0) < 1e-6 and "ratio/last_mean" in stats
    from stablegan.errors import ConfigError
    with pytest.raises(ConfigError, match="variational.target_kl"):
        oracle_cfg(*EXACT, "variational.target_kl=-1")


@pytest.mark.slow
def test_text_recipes_run_ppo_gan_with_the_ratio_that_is_one_at_theta_old(oracle_cfg):
    for recipe in ("oracle", "coco", "emnlp-news", "text-file"):
        for method in ("ppo-gan", "ppo-gan-ct", "ppo-gan-clip"):
            cfg = load_config(recipe, overrides=[f"method={method}"])
            assert cfg.variational.ratio == "classifier_same_x", (recipe, method)
        assert load_config(recipe, overrides=["method=ppo-gan-text-authors"]
                           ).variational.ratio == "classifier"  # the authors' independent draws
    assert load_config("oracle", overrides=["method=ppo-gan", "variational.ratio=classifier"]
                       ).variational.ratio == "classifier"  # --set wins
    assert load_config("ring", overrides=["method=ppo-gan"]).variational.ratio == "classifier"
    # r = 1 at the phase's start, before any C or G step
    m = Trainer.from_config(oracle_cfg("method=ppo-gan", "schedule.n_gen=1")).method
    z = m.sample_z(16)
    m.ratio.begin_phase(z)
    with torch.no_grad():
        log_r = m.ratio.log_ratio(m.ratio.samples(z))
    assert log_r.abs().max() < 1e-6  # C and its copy at one x: equal up to float rounding
