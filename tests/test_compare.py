"""The ablation harness and the surrogate-landscape diagnostic on tiny budgets."""

from __future__ import annotations

import json

import pytest

from stablegan.compare import batches_per_iteration, method_overrides, plan_runs, run_compare
from stablegan.diagnose import surrogate_landscape
from stablegan.errors import ConfigError, StableganError
from stablegan.recipes import load_config
from stablegan.training.trainer import Trainer

TINY = ["model.hidden=16", "model.layers=1", "data.batch_size=16", "eval.n_samples=200",
        "log.every=1"]


def test_batches_per_iteration_counts_every_network():
    assert batches_per_iteration(load_config("ring", overrides=["method=nsgan"])) == 2
    assert batches_per_iteration(load_config("ring", overrides=["method=wgan-gp"])) == 6
    assert batches_per_iteration(load_config("ring", overrides=["method=ppo-gan"])) == 15
    assert batches_per_iteration(load_config("ring", overrides=["method=ppo-gan-reweight"])) == 6


def test_equal_batch_budget_gives_each_method_its_own_iterations():
    plans = plan_runs("ring", ["wgan-gp", "ppo-gan"], [0, 1], None, 300, [])
    steps = {p["method"]: p["steps"] for p in plans}
    assert steps == {"wgan-gp": 50, "ppo-gan": 20}
    assert len(plans) == 4


def test_method_variants_and_bad_specs():
    assert method_overrides("ppo-gan+variational.eps=0.2") == ["method=ppo-gan",
                                                               "variational.eps=0.2"]
    with pytest.raises(ConfigError):
        method_overrides("ppo-gan+eps")
    with pytest.raises(ConfigError):
        plan_runs("ring", ["nsgann"], [0], 5, None, [])
    with pytest.raises(ConfigError):
        plan_runs("ring", ["nsgan"], [0], 5, 10, [])


@pytest.mark.slow
def test_compare_tiny_budget_writes_all_outputs_and_resumes(tmp_path):
    out = tmp_path / "cmp"
    summary = run_compare("ring", ["nsgan", "ppo-gan+variational.eps=0.2"], [0], out,
                          steps=4, overrides=TINY, jobs=2, evals=2)
    for name in ("summary.json", "summary.md", "curves.png", "loss_variance.png"):
        assert (out / name).is_file(), name
    assert summary["methods"] == ["nsgan", "ppo-gan+variational.eps=0.2"]
    stats = summary["metrics"]["nsgan"]["modes"]
    assert stats["values"] and stats["mean"] is not None
    md = (out / "summary.md").read_text()
    assert "| modes |" in md and "ppo-gan+variational.eps=0.2" in md
    saved = json.loads((out / "summary.json").read_text())
    assert set(saved["runs"]) == {"nsgan/seed0", "ppo-gan+variational.eps=0.2/seed0"}
    # a second call finds every run finished and skips it
    again = run_compare("ring", ["nsgan", "ppo-gan+variational.eps=0.2"], [0], out,
                        steps=4, overrides=TINY, jobs=2, evals=2)
    assert all(s.startswith("skipped") for s in again["status"].values())


@pytest.mark.parametrize("method", ["ppo-gan", "wgan-gp",
                                    "ppo-gan+variational.ratio=classifier_same_x"])
@pytest.mark.slow
def test_surrogate_landscape(tmp_path, method):
    name, *extra = method.split("+")
    cfg = load_config("ring", overrides=[*TINY, f"method={name}", *extra, "log.progress=false"],
                      steps=3)
    run = tmp_path / "run"
    Trainer.from_config(cfg, out_dir=run).fit()
    result = surrogate_landscape(run, tmp_path / "diag", alphas=5, classifier_steps=3)
    assert (tmp_path / "diag" / "surrogate.png").is_file()
    saved = json.loads((tmp_path / "diag" / "surrogate.json").read_text())
    assert saved["alpha"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert len(saved["wgan_objective"]) == len(saved["clipped_surrogate"]) == 5
    assert result["fresh_classifier"] is (name != "ppo-gan")
    assert result["update_norm"] > 0


def test_a_run_folder_of_another_budget_is_refused_not_skipped_or_resumed(tmp_path):
    """A rerun into the same --out with another --steps / pretrain.steps must not report the
    old run's numbers under the new budget (skipped as finished) nor mix the two (resumed)."""
    from stablegan.compare import _check_budget
    from stablegan.config import save_yaml

    run = tmp_path / "pretrain" / "seed0"
    run.mkdir(parents=True)
    _check_budget(run, 0, ["pretrain.steps=20"])  # no config.yaml yet: a fresh run
    save_yaml(load_config("oracle", overrides=["pretrain.steps=20"], steps=0), run / "config.yaml")
    _check_budget(run, 0, ["pretrain.steps=20", "optim.g_lr=1e-3"])  # the same budget
    with pytest.raises(StableganError, match="pretrain.steps=20, but this plan runs "
                                             "pretrain.steps=30") as err:
        _check_budget(run, 0, ["pretrain.steps=30"])
    assert "--out" in err.value.hint
    with pytest.raises(StableganError, match="steps=0, but this plan runs steps=6"):
        _check_budget(run, 6, [])
