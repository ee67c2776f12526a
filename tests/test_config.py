"""Config: schema checks, "did you mean" suggestions, --set parsing, layering and recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from stablegan.config import (
    Config,
    diff,
    parse_set,
    read_yaml,
    save_yaml,
)
from stablegan.configure import from_dict, resolve
from stablegan.errors import ConfigError
from stablegan.methods import PRESETS
from stablegan.recipes import DEFAULT_RECIPE, load_config, recipe_dict, recipe_names

# ----------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("override", "named", "suggestion"),
    [
        ("optim.g_lrr=1e-4", "optim.g_lrr", "optim.g_lr"),
        ("schedul.n_critic=5", "schedul.n_critic", "schedule.n_critic"),
        ("objective.los=hinge", "objective.los", "objective.loss"),
        ("lipschitz.gradient_penalty.wieght=1", "lipschitz.gradient_penalty.wieght",
         "lipschitz.gradient_penalty.weight"),
        ("steps_=4", "steps_", "steps"),
    ],
)
def test_unknown_key_names_it_and_suggests_the_closest(override, named, suggestion):
    with pytest.raises(ConfigError) as info:
        load_config("ring", None, [override])
    err = info.value
    assert f"'{named}'" in err.message
    assert err.hint == f"did you mean '{suggestion}'?"


def test_unknown_key_in_a_config_file_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: nsgan\noptim: {g_lr: 1.0e-4, d_lrr: 2.0e-4}\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, path)
    assert "'optim.d_lrr'" in info.value.message
    assert "optim.d_lr" in info.value.hint


def test_unknown_key_without_close_match_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        from_dict({"ema": {"zzzzzz": 1}})
    assert "'ema.zzzzzz'" in info.value.message
    assert "ema.decay" in info.value.hint and "ema.start" in info.value.hint


def test_unknown_method_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        from_dict({"method": "wgan-gpp"})
    assert "wgan-gpp" in info.value.message and "'method'" in info.value.message
    assert "wgan-gp" in info.value.hint


# ----------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"steps": "ten"}, "steps"),
        ({"schedule": {"n_critic": "5"}}, "schedule.n_critic"),
        ({"model": {"latent_dim": 2.5}}, "model.latent_dim"),
        ({"data": {"batch_size": True}}, "data.batch_size"),
        ({"log": {"progress": "yes"}}, "log.progress"),
        ({"log": {"progress": 1}}, "log.progress"),
        ({"optim": {"g_lr": "fast"}}, "optim.g_lr"),
        ({"optim": {"betas": 0.5}}, "optim.betas"),
        ({"optim": {"betas": [0.5, 0.9, 0.1]}}, "optim.betas"),
        ({"objective": {"loss": 3}}, "objective.loss"),
        ({"eval": {"metrics": 5}}, "eval.metrics"),
    ],
)
def test_wrong_type_names_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        from_dict(data)
    assert f"'{key}'" in info.value.message


def test_section_given_a_scalar_is_refused():
    with pytest.raises(ConfigError) as info:
        from_dict({"lipschitz": {"gradient_penalty": 3}})
    assert "lipschitz.gradient_penalty" in info.value.message
    assert "mapping" in info.value.message


def test_integral_float_is_accepted_for_int_and_int_for_float():
    cfg = from_dict({"steps": 10.0, "optim": {"g_lr": 1}})
    assert cfg.steps == 10 and isinstance(cfg.steps, int)
    assert cfg.optim.g_lr == 1.0 and isinstance(cfg.optim.g_lr, float)


# ----------------------------------------------------------------------------- impossible values


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optim.g_lr=-1e-4", "optim.g_lr"),
        ("optim.d_lr=0", "optim.d_lr"),
        ("optim.c_lr=inf", "optim.c_lr"),
        ("optim.g_lr=nan", "optim.g_lr"),
        ("schedule.n_critic=0", "schedule.n_critic"),
        ("schedule.n_gen=0", "schedule.n_gen"),
        ("variational.eps=1.5", "variational.eps"),
        ("variational.eps=0", "variational.eps"),
        ("variational.temperature=0", "variational.temperature"),
        ("data.batch_size=1", "data.batch_size"),
        ("steps=0", "steps"),
        ("ema.decay=1.0", "ema.decay"),
        ("optim.betas=[0.5,1.0]", "optim.betas"),
        ("replay.fraction=0.5", "replay.fraction"),  # no buffer
        ("lipschitz.weight_clip=-0.01", "lipschitz.weight_clip"),
        ("lipschitz.consistency.weight=2", "lipschitz.consistency.weight"),  # no dropout
        ("augment.policy=translation,zoom", "augment.policy"),
        ("augment.probability=1.5", "augment.probability"),
        ("variational.clip_mode=ppo", "variational.clip_mode"),
        ("objective.label_smoothing=0.6", "objective.label_smoothing"),
        ("model.d_dropout=1.0", "model.d_dropout"),
    ],
)
def test_impossible_value_names_the_key(override, key):
    with pytest.raises(ConfigError) as info:
        load_config("ring", None, [override])
    assert f"'{key}'" in info.value.message


@pytest.mark.parametrize("override", ["lipschitz.gradient_penalty.weight=.inf", "ema.decay=nan",
                                      "unrolled.lr=inf", "optim.betas=[0.5,.nan]",
                                      "objective.feature_matching=inf", "optim.g_lr=-.inf"])
def test_non_finite_numbers_are_refused(override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError) as info:
        load_config("ring", None, [override])
    assert f"'{key}'" in info.value.message and "finite" in info.value.message


def test_label_smoothing_is_refused_for_non_bce_losses():
    with pytest.raises(ConfigError) as info:
        load_config("ring", None, ["method=wgan-gp", "objective.label_smoothing=0.1"])
    assert "objective.label_smoothing" in info.value.message
    # ... and accepted where it applies
    cfg = load_config("ring", None, ["method=nsgan", "objective.label_smoothing=0.1"])
    assert cfg.objective.label_smoothing == pytest.approx(0.1)


def test_choice_error_suggests_a_valid_value():
    with pytest.raises(ConfigError) as info:
        load_config("ring", None, ["objective.loss=hinj"])
    assert info.value.hint == "did you mean 'hinge'?"


# ----------------------------------------------------------------------------- --set parsing


def test_parse_set_builds_nested_yaml_values():
    out = parse_set(["a.b=1e-4", "a.c=[0.5,0.9]", "d=true", "e.f.g=false", "h=3", "i=x=y",
                     "j=null", "k="])
    assert out == {"a": {"b": "1e-4", "c": [0.5, 0.9]}, "d": True, "e": {"f": {"g": False}},
                   "h": 3, "i": "x=y", "j": None, "k": ""}


@pytest.mark.parametrize("item", ["novalue", "=3"])
def test_parse_set_rejects_items_without_key(item):
    with pytest.raises(ConfigError):
        parse_set([item])


def test_parse_set_rejects_a_value_used_as_section():
    with pytest.raises(ConfigError) as info:
        parse_set(["a=1", "a.b=2"])
    assert "'a'" in info.value.message


def test_set_values_are_typed_by_the_schema():
    cfg = load_config("ring", None, ["optim.g_lr=1e-4", "optim.d_lr=3e-4", "optim.betas=[0.4,0.8]",
                                     "log.progress=false", "ema.decay=0.999",
                                     "data.image_size=null", "seed=7"])
    assert cfg.optim.g_lr == 1e-4 and isinstance(cfg.optim.g_lr, float)
    assert cfg.optim.d_lr == 3e-4
    assert cfg.optim.betas == (0.4, 0.8)  # not the ring recipe's (0.5, 0.9)
    assert cfg.log.progress is False
    assert cfg.ema.decay == 0.999
    assert cfg.data.image_size is None
    assert cfg.seed == 7


# ----------------------------------------------------------------------------- layering


def test_preset_under_recipe_and_set_wins():
    ring = recipe_dict("ring")
    cfg = load_config("ring", None, ["method=wgan-gp"])
    # the preset's ingredients arrive ...
    assert cfg.method == "wgan-gp"
    assert cfg.objective.loss == "wasserstein"
    assert cfg.schedule.n_critic == 5
    assert cfg.lipschitz.gradient_penalty.weight == 10.0
    # the ring recipe sets betas itself (and wins); digits sets none, so the preset's arrive
    assert cfg.optim.betas == tuple(ring["optim"]["betas"])
    assert load_config("digits", None, ["method=wgan-gp"]).optim.betas == (0.5, 0.9)
    assert load_config("digits", None, ["method=nsgan"]).optim.betas == (0.5, 0.999)
    # ... the recipe's data/model/budget stay
    assert cfg.optim.g_lr == ring["optim"]["g_lr"]
    assert cfg.data.batch_size == ring["data"]["batch_size"]
    # and --set beats the preset
    cfg = load_config("ring", None, ["method=wgan-gp", "schedule.n_critic=2",
                                     "lipschitz.gradient_penalty.weight=1"])
    assert cfg.schedule.n_critic == 2
    assert cfg.lipschitz.gradient_penalty.weight == 1.0
    assert cfg.objective.loss == "wasserstein"


def test_recipe_file_beats_preset_and_set_beats_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("method: wgan-gp\nobjective: {loss: hinge}\nschedule: {n_gen: 2}\n")
    cfg = load_config(None, path)
    assert cfg.objective.loss == "hinge"  # recipe over preset
    assert cfg.schedule.n_critic == 5  # preset where the recipe is silent
    assert cfg.schedule.n_gen == 2
    cfg = load_config(None, path, ["schedule.n_gen=3", "method=nsgan"], steps=11, seed=4)
    assert cfg.schedule.n_gen == 3
    assert cfg.method == "nsgan" and cfg.schedule.n_critic == 1  # the nsgan preset now
    assert cfg.objective.loss == "hinge"
    assert (cfg.steps, cfg.seed) == (11, 4)


def test_preset_fragments_are_not_mutated_by_resolution():
    before = repr(PRESETS["ppo-gan"][1])
    resolve([{"method": "ppo-gan", "variational": {"eps": 0.1}, "schedule": {"n_gen": 2}}])
    assert repr(PRESETS["ppo-gan"][1]) == before


def test_default_recipe_is_used_without_recipe_or_file():
    assert load_config() == load_config(DEFAULT_RECIPE)


def test_recipe_and_config_file_together_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 3\n")
    with pytest.raises(ConfigError):
        load_config("ring", path)


def test_unknown_recipe_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        load_config("rnig")
    assert "rnig" in info.value.message
    assert info.value.hint == "did you mean 'ring'?"


@pytest.mark.parametrize("name", recipe_names())
@pytest.mark.slow
def test_every_shipped_recipe_resolves(name):
    raw = recipe_dict(name)
    assert raw.get("description"), f"recipe {name} has no description"
    cfg = load_config(name)
    assert isinstance(cfg, Config)
    assert cfg.method == raw.get("method", "nsgan")
    assert cfg.data.name == raw["data"]["name"]
    assert cfg.steps == raw["steps"]
    # a recipe resolves under every method preset too
    for method in PRESETS:
        assert load_config(name, None, [f"method={method}"]).method == method


def test_shipped_recipes_include_the_offline_ones():
    assert {"ring", "grid", "digits"} <= set(recipe_names())


# ----------------------------------------------------------------------------- files & diff


def test_yaml_round_trip_is_lossless(tmp_path):
    cfg = load_config("ring", None, ["method=ppo-gan", "optim.betas=[0.1,0.2]", "eval.metrics=swd",
                                     "unrolled.lr=0.5"])
    path = tmp_path / "config.yaml"
    save_yaml(cfg, path)
    again = from_dict(read_yaml(path))
    assert again == cfg
    assert from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("text", "fragment"),
    [(None, "does not exist"), ("- a\n- b\n", "mapping"), ("a: [1, 2\n", "not valid YAML")],
)
def test_read_yaml_errors_are_clear(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    assert fragment in info.value.message


CORRUPT_YAML = {  # text: (where, the line shown, a fragment of the hint)
    "unclosed-brace": ("method: nsgan\ndata: {name: ring, batch_size: 16\nsteps: 5\n",
                       "line 3, column 6", "line 3 reads 'steps: 5'",
                       "the '{' at line 2, column 7 is not closed"),
    "unclosed-bracket-at-end": ("optim:\n  betas: [0.5, 0.9\n", "line 3, column 1",
                                "line 2 reads '  betas: [0.5, 0.9'",
                                "the '[' at line 2, column 10 is not closed"),
    "tab": ("data:\n  name: ring\n\tbatch_size: 16\n", "line 3, column 1",
            "line 3 reads '\\tbatch_size: 16'", "replace the tab with spaces"),
    "no-space-after-colon": ("data:\n  name:ring\n  batch_size: 16\n", "line 3, column 13",
                             "line 3 reads '  batch_size: 16'", "a space after the colon"),
    "unclosed-quote": ("description: 'my run\nsteps: 5\n", "line 3, column 1",
                       "line 1 reads \"description: 'my run\"",
                       "the quote at line 1, column 14 is never closed"),
    "stray-brace": ("data: {name: ring}}\n", "line 1, column 19",
                    "line 1 reads 'data: {name: ring}}'", "closing '}' or ']'"),
}


@pytest.mark.parametrize("case", list(CORRUPT_YAML))
def test_corrupt_yaml_names_line_column_text_and_a_hint(tmp_path, case):
    text, where, shown, hint = CORRUPT_YAML[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    message = info.value.message
    assert message.startswith(f"config file '{path}' is not valid YAML: {where}: "), message
    assert shown in message and "\n" not in message
    assert hint in (info.value.hint or ""), info.value.hint


def test_yaml_that_is_not_a_mapping_or_not_text_gets_a_hint(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps:5\n")  # a plain string, not steps = 5
    with pytest.raises(ConfigError, match="must hold a mapping of keys, not str") as info:
        read_yaml(path)
    assert "space after the colon" in (info.value.hint or "")
    path.write_bytes(b"description: caf\xe9\n")  # latin-1
    with pytest.raises(ConfigError, match="is not UTF-8 text") as info:
        read_yaml(path)
    assert "UTF-8" in (info.value.hint or "")


def test_empty_yaml_file_is_an_empty_mapping(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert read_yaml(path) == {}


def test_diff_names_each_changed_key():
    a = load_config("ring").to_dict()
    b = load_config("ring", None, ["optim.g_lr=5e-4", "schedule.n_critic=3"]).to_dict()
    lines = diff(a, b)
    assert len(lines) == 2
    assert any(line.startswith("optim.g_lr: 0.001 -> 0.0005") for line in lines)  # ring: 1e-3
    assert any(line.startswith("schedule.n_critic: 1 -> 3") for line in lines)
    assert diff(a, a) == []


def test_all_config_sections_have_defaults_that_validate():
    cfg = from_dict({})
    assert cfg == Config()


def test_read_yaml_accepts_path_objects(tmp_path):
    path = Path(tmp_path) / "ok.yaml"
    path.write_text("steps: 5\n")
    assert load_config(None, path).steps == 5
