"""One place chooses the method (``stablegan.methods.method_for``), and ``stablegan compare``'s
equal-compute arithmetic counts what the trainer really does.

``compare --batches B`` gives each method ``B // batches_per_iteration(cfg)`` iterations. The
check: for every built-in recipe and every method preset, ``batches_per_iteration`` of the real
config equals the minibatch updates one adversarial iteration performs in a real short run (the
optimizer steps the method counts as it takes them, ``trainer.batches_consumed()``), on a tiny
stand-in config of the same task with the recipe's and preset's schedule, objective, ratio and
style settings. Configs whose counting settings coincide share one run (recipes of one task
under one preset). The combinations a run refuses with a ConfigError (``REFUSED``: the
class-conditional presets off labelled images, RelGAN's loss on the style task) are checked to
be refused instead.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from stablegan.compare import batches_per_iteration
from stablegan.config import Config
from stablegan.configure import from_dict
from stablegan.data import TASK_OF, build_data, task_name
from stablegan.errors import ConfigError
from stablegan.methods import (
    PRESETS,
    TASK_METHODS,
    GANMethod,
    PPOGANMethod,
    StyleMethod,
    method_for,
    register_method,
)
from stablegan.recipes import load_config, recipe_names
from stablegan.tasks import StyleTask, TextTask
from stablegan.training.trainer import Trainer

# settings of a tiny run per task (the recipe's schedule/objective/ratio settings stay)
QUIET = ["log.progress=false", "log.tensorboard=false", "log.every=1", "log.sample_every=1000",
         "eval.every=0", "eval.n_samples=32", "health.enabled=false"]
POS = ["the food was great .", "i love this place !", "friendly staff and good prices ."]
NEG = ["the food was awful .", "i hate this place !", "rude staff and high prices ."]
STYLE_SIZES = ["style.embed_dim=8", "style.hidden=16", "style.z_dim=8", "style.c_dim=4",
               "style.critic_hidden=8", "style.classifier_filters=4",
               "style.eval_classifier_epochs=1", "style.autoencoder_steps=1"]
# the sections a tiny run takes from the stand-in; everything else comes from recipe + preset
SIZE_SECTIONS = ("data", "model", "pretrain", "log", "eval", "health", "dist", "device", "steps",
                 "description")
STYLE_SIZE_KEYS = ("embed_dim", "hidden", "z_dim", "c_dim", "critic_hidden", "classifier_filters",
                   "eval_classifier_epochs", "autoencoder_steps", "eval_max_sentences")


# (task, preset) pairs that a run refuses with the project's error (so no budget applies): the
# class-conditional presets need labelled images, and the style task's default adversary pairs
# one real with one fake code, which RelGAN's relativistic loss does not
CONDITIONAL = ("cgan-pd", "acgan", "cgan-ppo")
REFUSED = {**{(task, preset): "is class-conditional but data"
              for task in ("points", "text", "style") for preset in CONDITIONAL},
           ("style", "relgan"): "does not support objective.loss=rsgan"}


def style_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sentiment.train.text").write_text("\n".join((POS + NEG) * 4) + "\n")
    (root / "sentiment.train.labels").write_text("\n".join((["1"] * 3 + ["0"] * 3) * 4) + "\n")
    (root / "sentiment.test.text").write_text("the food was great .\ni hate this place !\n")
    (root / "sentiment.test.labels").write_text("1\n0\n")
    return root


def stand_in(task: str, root: Path) -> Config:
    """A tiny config whose data trains through ``task``."""
    if task == "points":
        return load_config("ring-small", overrides=[*QUIET, "data.batch_size=16",
                                                     "model.hidden=16", "model.layers=1"])
    if task == "images":
        path = root / "images.pt"
        if not path.is_file():  # labelled, so the class-conditional presets run too
            torch.save({"x": torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
                        * 2 - 1, "y": torch.arange(64) % 4}, path)
        return load_config("ring-small", overrides=[
            *QUIET, "data.name=tensor", f"data.path={path}", "data.batch_size=16",
            "model.name=dcgan", "model.channels=4", "model.latent_dim=8"])
    if task == "text":
        return load_config("oracle", overrides=[
            *QUIET, "data.oracle_train=128", "data.oracle_test=64", "data.max_len=6",
            "data.batch_size=16", "model.head_size=8", "model.num_rep=4", "model.d_embed_dim=8",
            "model.d_filters=8", "model.embed_dim=8", "pretrain.steps=0"])
    assert task == "style"
    return load_config("text-style", overrides=[
        *QUIET, *STYLE_SIZES, f"data.path={style_corpus(root / 'style')}", "data.batch_size=4",
        "data.holdout_fraction=0.2"])


def tiny_version(cfg: Config, task: str, root: Path) -> Config:
    """``cfg``'s counting settings on the stand-in data and networks of ``task``, 2 steps."""
    small = dataclasses.asdict(stand_in(task, root))
    merged = dataclasses.asdict(cfg)
    for section in SIZE_SECTIONS:
        merged[section] = small[section]
    merged["model"]["d_dropout"] = dataclasses.asdict(cfg)["model"]["d_dropout"]  # CT-GAN
    for key in STYLE_SIZE_KEYS:
        merged["style"][key] = small["style"][key]
    if task in ("text", "style"):
        # the CT presets' consistency term needs critic features that the text critics (RelGAN:
        # several scores per sentence) and the style task's latent critic do not give, so those
        # runs stop at the first critic step; the term steps no optimizer, so the count is the
        # same without it
        merged["lipschitz"]["consistency"]["weight"] = 0.0
    merged["steps"] = 2
    merged["schedule"]["d_warmup"] = 0
    merged["variational"]["classifier_warmup"] = 0
    return from_dict(merged)


def counting_key(cfg: Config, task: str) -> str:
    """The settings an iteration's update count can depend on."""
    parts: list[Any] = [task, dataclasses.asdict(cfg.schedule), dataclasses.asdict(cfg.variational),
                        dataclasses.asdict(cfg.unrolled), dataclasses.asdict(cfg.objective),
                        dataclasses.asdict(cfg.lipschitz),
                        dataclasses.asdict(getattr(cfg, "conditional", None) or {})]
    if task == "style":
        parts.append(dataclasses.asdict(cfg.style))
    return json.dumps(parts, sort_keys=True, default=str)


def updates_per_iteration_of_a_run(cfg: Config) -> int:
    """Optimizer steps of all networks in one adversarial iteration of a real 2-step run."""
    torch.manual_seed(0)
    trainer = Trainer.from_config(cfg)
    trainer.fit()
    batches = [r["batches"] for r in trainer.history if "phase" not in r]
    assert len(batches) == 2
    return batches[1] - batches[0]


def every_recipe_and_preset() -> dict[str, list[tuple[str, str, Config]]]:
    groups: dict[str, list[tuple[str, str, Config]]] = {}
    for recipe in recipe_names():
        for preset in PRESETS:
            cfg = load_config(recipe, overrides=[f"method={preset}"])
            task = TASK_OF[cfg.data.name]
            groups.setdefault(counting_key(cfg, task), []).append((recipe, preset, cfg))
    return groups


# ------------------------------------------------------------------------------ the checks
@pytest.mark.slow
def test_compare_budgets_equal_the_updates_a_run_counts_for_every_recipe_and_preset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))
    groups = every_recipe_and_preset()
    assert len({r for g in groups.values() for r, _, _ in g}) == len(recipe_names())
    assert {TASK_OF[g[0][2].data.name] for g in groups.values()} == {"points", "images", "text",
                                                                     "style"}
    wrong, refused = [], set()
    for members in groups.values():
        recipe, preset, cfg = members[0]
        task = TASK_OF[cfg.data.name]
        if (task, preset) in REFUSED:  # a run refuses it, so compare has no budget to get right
            with pytest.raises(ConfigError, match=REFUSED[(task, preset)]):
                Trainer.from_config(tiny_version(cfg, task, tmp_path))
            refused.add((task, preset))
            continue
        counted = updates_per_iteration_of_a_run(tiny_version(cfg, task, tmp_path))
        for r, p, c in members:
            if batches_per_iteration(c) != counted:
                wrong.append(f"{r} + {p}: compare {batches_per_iteration(c)}, run {counted}")
    assert not wrong, "; ".join(wrong)
    assert refused == set(REFUSED)


@pytest.mark.parametrize(("recipe", "preset", "want"), [
    ("ring", "nsgan", 2), ("ring", "ppo-gan", 15), ("yelp-style", "nsgan", 4),
    ("text-style", "ppo-gan", 26), ("text-style", "ppo-gan-reweight", 8)])
def test_compare_counts_the_style_method_for_style_data(recipe: str, preset: str,
                                                        want: int) -> None:
    """The style task trains with StyleMethod (autoencoder, classifier and ratio critics), so
    compare's budget for yelp-style/text-style is StyleMethod's, not the classic method's."""
    cfg = load_config(recipe, overrides=[f"method={preset}"])
    assert batches_per_iteration(cfg) == want


@pytest.mark.parametrize(("recipe", "preset"), [("ring-small", "nsgan"),
                                                ("ring-small", "ppo-gan"),
                                                ("text-style", "nsgan"),
                                                ("text-style", "ppo-gan")])
def test_compare_budget_equals_a_real_run_on_toy_and_style_data(
        tmp_path: Path, recipe: str, preset: str) -> None:
    """The fast part of the full check above (two tasks, the classic and the PPO schedule)."""
    cfg = load_config(recipe, overrides=[f"method={preset}"])
    task = TASK_OF[cfg.data.name]
    assert updates_per_iteration_of_a_run(tiny_version(cfg, task, tmp_path)) == \
        batches_per_iteration(cfg)


def test_method_for_takes_a_task_instance_class_or_name(tmp_path: Path) -> None:
    cfg = load_config("ring-small", overrides=["method=ppo-gan"])
    assert method_for(cfg, "points") is PPOGANMethod
    assert method_for(load_config("ring-small"), "points") is GANMethod
    assert method_for(cfg, StyleTask) is StyleMethod and method_for(cfg, "style") is StyleMethod
    style_cfg = stand_in("style", tmp_path)
    data = build_data(style_cfg.data, 0)
    assert method_for(style_cfg, StyleTask(data, style_cfg)) is StyleMethod
    from stablegan.methods import ConditionalGANMethod, ConditionalPPOMethod

    assert method_for(load_config("digits", overrides=["method=cgan-pd"]), "images") is \
        ConditionalGANMethod
    assert method_for(load_config("digits", overrides=["method=cgan-ppo"]), "images") is \
        ConditionalPPOMethod


def test_register_method_gives_a_task_its_own_method(monkeypatch: pytest.MonkeyPatch) -> None:
    class TextPPO(PPOGANMethod):
        pass

    monkeypatch.setattr("stablegan.methods.TASK_METHODS", dict(TASK_METHODS))
    from stablegan import methods

    register_method("text", TextPPO)
    assert method_for(load_config("ring-small"), TextTask) is TextPPO
    assert methods.TASK_METHODS["text"] is TextPPO and "text" not in TASK_METHODS
    with pytest.raises(ConfigError, match="already has a method"):
        register_method("text", GANMethod)
    with pytest.raises(ConfigError, match=r"already has a method \(StyleMethod\)"):
        register_method("style", GANMethod)
    register_method("style", TextPPO, overwrite=True)
    assert method_for(load_config("ring-small"), "style") is TextPPO


def test_task_of_names_the_task_the_built_source_trains_through(tmp_path: Path) -> None:
    for name in ("ring", "grid", "digits"):
        cfg = load_config("digits" if name == "digits" else "ring",
                          overrides=[f"data.name={name}"])
        assert task_name(cfg.data) == TASK_OF[name] == build_data(cfg.data, 0).task
    style_cfg = stand_in("style", tmp_path)
    assert build_data(style_cfg.data, 0).task == TASK_OF["text-style"] == "style"
    images = stand_in("images", tmp_path)  # "tensor" is not in the table: built to find out
    assert "tensor" not in TASK_OF and task_name(images.data) == "images"
