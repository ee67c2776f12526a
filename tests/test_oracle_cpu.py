"""Recipe oracle-cpu (issue 21): it resolves, builds and trains a few steps at tiny sizes; it
holds the setting the pre-registered search chose (benchmarks/oracle_cpu_search.md and .py
agree with each other and with the recipe); the search's selection rule; and
``pretrain.eval_every``, the maximum-likelihood curves, which leave the trajectory unchanged."""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from stablegan import Trainer
from stablegan.errors import ConfigError
from stablegan.recipes import load_config, recipe_dict

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.oracle_train=256", "data.oracle_test=128", "data.max_len=6", "data.batch_size=16",
        "data.oracle_vocab=50", "model.head_size=8", "model.num_rep=4", "model.d_embed_dim=8",
        "model.d_filters=8", "model.embed_dim=8", "eval.n_samples=40", "log.progress=false",
        "log.tensorboard=false", "log.every=1"]


def search() -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module("oracle_cpu_search")
    finally:
        sys.path.pop(0)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_recipe_holds_the_chosen_setting_and_the_search_budget() -> None:
    s = search()
    chosen = s.chosen()
    cfg = load_config("oracle-cpu")
    assert cfg.method == "relgan" and cfg.data.name == "oracle" and cfg.data.max_len == 20
    assert cfg.data.oracle_vocab == chosen.vocab
    assert cfg.model.beta_max == chosen.beta_max and cfg.optim.g_lr == chosen.g_lr
    assert cfg.model.beta_steps == chosen.beta_steps  # the annealing path searched
    assert cfg.pretrain.steps == s.PRETRAIN
    assert cfg.steps * (cfg.schedule.n_critic + cfg.schedule.n_gen) == chosen.batches
    assert "oracle_cpu_search.md" in recipe_dict("oracle-cpu")["description"]
    # the per-method fragments resolve: the authors' schedule, the same-x classifier ratio
    authors = load_config("oracle-cpu", overrides=["method=ppo-gan-text-authors"])
    assert (authors.model.beta_max, authors.model.beta_steps) == (5.0, 5000)
    assert load_config("oracle-cpu", overrides=["method=ppo-gan"]).variational.ratio == \
        "classifier_same_x"


def test_preregistered_grid_is_the_scripts_grid() -> None:
    """The .md's grid table, seeds and budgets are SETTINGS, SEEDS, BATCHES and PRETRAIN."""
    s = search()
    md = (ROOT / "benchmarks" / "oracle_cpu_search.md").read_text()
    grid = md.split("## The grid (fixed order)")[1].split("\n\n")[1]
    rows = re.findall(r"^\| ([A-Z]) \| (\d+) \| ([\d.]+) \| ([\de.-]+) \|$", grid, re.M)
    assert [(n, int(v), float(b), float(lr)) for n, v, b, lr in rows] == \
        [(x.name, x.vocab, x.beta_max, x.g_lr) for x in s.SETTINGS]
    order = ", ".join(x.name for x in s.SETTINGS)
    assert f"the first passing setting in the order {order}**" in " ".join(md.split())
    assert f"**{s.BATCHES:,} minibatch updates**" in md
    assert f"**{s.PRETRAIN:,} steps**" in md
    assert f"Seeds {', '.join(map(str, s.SEEDS[:-1]))}, {s.SEEDS[-1]}" in md
    assert f"{s.EVERY} updates" in md
    # round 2's table: V, beta_max, g_lr, budget, beta_steps and seeds of ROUND2
    two = md.split("## Round 2")[1].split("\n\n")[2]
    found = re.findall(r"^\| ([A-Z]) \| (\d+) \| ([\d.]+) \| ([\de.-]+) \| (\d+) updates[^|]*\| "
                       r"(\d+) \| ([\d, ]+) \|$", two, re.M)
    assert [(n, int(v), float(b), float(lr), int(k), int(bs), tuple(map(int, sd.split(","))))
            for n, v, b, lr, k, bs, sd in found] == \
        [(x.name, x.vocab, x.beta_max, x.g_lr, x.batches, x.beta_steps, x.seeds)
         for x in s.ROUND2]
    assert not set(s.ROUND2[0].seeds) & set(s.SEEDS)  # round 2 runs on fresh seeds


def _row(s: ModuleType, name: str, rel: list[float] | None, mle: list[float]) -> dict:
    return s.row({x.name: x for x in s.SETTINGS}[name], rel or [], mle)


def test_selection_rule_first_pass_in_order_undecided_and_fallback() -> None:
    s = search()
    mle = [8.0, 8.1, 7.9]  # mean 8.0, std 0.1: a pass needs relgan's mean below 7.7
    fails = _row(s, "A", [7.8, 7.7, 7.9], mle)  # gap 0.2 < 0.3
    passes = _row(s, "B", [7.0, 7.1, 6.9], mle)  # gap 1.0 > 0.3
    also = _row(s, "C", [6.0, 6.1, 5.9], mle)  # a larger gap, later in the order
    assert not fails["passed"] and passes["passed"] and fails["ratio"] == pytest.approx(2.0)
    assert s.decide([fails, passes, also])[0] == "B"
    assert s.decide([passes, also])[0] == "B"  # the first, not the largest
    assert s.decide([_row(s, "A", None, mle), passes])[0] is None  # A might still pass
    # nothing passes: none while running; at the end, the largest gap / spread
    weak = _row(s, "B", [7.75, 7.85, 7.65], mle)  # ratio 2.5
    assert s.decide([fails, weak])[0] is None
    assert s.decide([fails, weak, _row(s, "C", None, mle)], final=True)[0] == "B"
    md = s.markdown([fails, _row(s, "C", None, mle)])
    assert "| A | 1000 | 100 | 0.0001 |" in md and "not run" in md


def test_recipe_builds_and_runs_a_few_steps_at_tiny_sizes(cache: Path) -> None:
    cfg = load_config("oracle-cpu", overrides=[*TINY, "pretrain.steps=2"], steps=2)
    t = Trainer.from_config(cfg, out_dir=cache / "run")
    assert [p.name for p in t.method.phases(2)] == ["pretrain", "adversarial"]
    result = t.fit()
    assert t.step == 2 and t.batches_consumed() == 2 + 2 * 6
    assert result["floor/nll_oracle"] < result["nll_oracle"] < math.log(50) + 3


def _pretrain_only(cache: Path, name: str, steps: int, *extra: str) -> Trainer:
    cfg = load_config("oracle-cpu", overrides=[*TINY, f"pretrain.steps={steps}", *extra],
                      steps=0)
    t = Trainer.from_config(cfg, out_dir=cache / name)
    t.fit()
    return t


def test_pretrain_eval_every_gives_curves_and_leaves_the_trajectory(cache: Path) -> None:
    with_eval = _pretrain_only(cache, "a", 5, "pretrain.eval_every=2")
    plain = _pretrain_only(cache, "b", 5)
    rows = [json.loads(x) for x in (cache / "a" / "evals.jsonl").read_text().splitlines()]
    # every 2 steps but the last (the final evaluation is eval.json)
    assert [(r["phase"], r["step"], r["batches"]) for r in rows] == \
        [("pretrain", 2, 2), ("pretrain", 4, 4)]
    assert not (cache / "b" / "evals.jsonl").exists()
    for (k, a), (_, b) in zip(with_eval.method.G.state_dict().items(),
                              plain.method.G.state_dict().items()):
        assert torch.equal(a, b), k  # evaluating does not move the pre-training's RNG
    # the row at step 2 is the evaluation of the generator after 2 steps: a 2-step run's final
    two = _pretrain_only(cache, "c", 2)
    final = json.loads((cache / "c" / "eval.json").read_text())
    assert rows[0]["nll_oracle"] == final["nll_oracle"]
    assert rows[0]["bleu2"] == final["bleu2"] and rows[0]["nll_gen"] == final["nll_gen"]
    assert two.phase_steps["pretrain"] == 2


def test_pretrain_eval_every_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="pretrain.eval_every"):
        load_config("oracle-cpu", overrides=["pretrain.eval_every=-1"])


def test_ema_starts_from_the_pretrained_generator_and_pretraining_evaluates_g(cache: Path) -> None:
    """With EMA on, the evaluations during and after pre-training read G (the average has seen
    no adversarial step: before, they read the initial weights), and the average starts from
    the pre-trained weights, not the initial ones."""
    _pretrain_only(cache, "a", 4, "pretrain.eval_every=2")
    ema = _pretrain_only(cache, "b", 4, "pretrain.eval_every=2", "ema.decay=0.999")
    rows = [[json.loads(x) for x in (cache / n / "evals.jsonl").read_text().splitlines()]
            for n in ("a", "b")]
    assert [r["nll_oracle"] for r in rows[0]] == [r["nll_oracle"] for r in rows[1]]
    finals = [json.loads((cache / n / "eval.json").read_text()) for n in ("a", "b")]
    assert finals[0]["nll_oracle"] == finals[1]["nll_oracle"]
    assert ema.ema is not None
    for (k, s), (_, g) in zip(ema.ema.shadow.state_dict().items(), ema.method.G.state_dict()
                              .items()):
        assert torch.equal(s, g), k  # reset to the pre-trained G at the phase's end
