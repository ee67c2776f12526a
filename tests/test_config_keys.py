"""Every config key documented, the tasks' own sections and keys, and ``stablegan config``
(issue 20.3): the listing, one key explained, the resolved values, "did you mean"."""

from __future__ import annotations

import dataclasses
import pickle
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import run_python

from stablegan.cli import main
from stablegan.config import (
    GENERAL,
    SCHEMA,
    Config,
    DataConfig,
    ModelConfig,
    all_keys,
    build,
    explain,
    key_info,
    keys,
    sections,
)
from stablegan.core.schema import Schema, describe, describe_sections, key
from stablegan.errors import ConfigError
from stablegan.recipes import load_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# what issue 20.3 gives the text task (every other key of data and model stays general)
TEXT_KEYS = {f"data.{k}" for k in ("max_len", "test_path", "text_long", "text_errors",
                                   "vocab_from", "min_count", "oracle_seed", "oracle_train",
                                   "oracle_test", "oracle_vocab")} | {
    f"model.{k}" for k in ("embed_dim", "lstm_hidden", "mem_slots", "num_heads", "head_size",
                           "d_embed_dim", "num_rep", "d_filters", "beta_max", "beta_schedule",
                           "beta_steps", "beta_scale")}


# ------------------------------------------------------------------------ the descriptions
@pytest.mark.parametrize("info", keys(), ids=lambda i: i.path)
def test_every_key_has_a_one_line_description(info) -> None:
    assert info.doc.strip(), f"config key '{info.path}' has no description: key(default, '...')"
    assert "\n" not in info.doc and len(info.doc) <= 200, info.doc


@pytest.mark.parametrize("sec", sections(), ids=lambda s: s.path)
def test_every_section_has_a_docstring(sec) -> None:
    assert sec.doc.strip(), f"config section '{sec.path}' has no docstring"


def test_keys_are_every_leaf_of_config_once() -> None:
    paths = [i.path for i in keys()]
    assert paths == all_keys() and len(paths) == len(set(paths))
    plain = Config().to_dict()
    for i in keys():  # the listed default is the default a Config holds
        node = plain
        for part in i.path.split("."):
            node = node[part]
        assert node == (list(i.default) if isinstance(i.default, tuple) else i.default), i.path


def test_a_key_without_a_description_is_found() -> None:
    """The check above can fail: a section with an undocumented key lists it with doc ''."""
    @dataclasses.dataclass
    class Bare:
        """A section."""

        width: int = key(3)

    (info,) = describe(Bare, "bare")
    assert (info.path, info.doc, info.default, info.type) == ("bare.width", "", 3, "int")


# ---------------------------------------------------------------------- the allowed values
CHOICE_KEYS = [i for i in keys() if i.choices]


@pytest.mark.parametrize("info", CHOICE_KEYS, ids=lambda i: i.path)
def test_a_name_outside_the_allowed_values_is_refused(info) -> None:
    default = info.default
    ok = (all(p.strip() in info.choices for p in default.split(",") if p.strip())
          if isinstance(default, str) else all(v in info.choices for v in default))
    assert ok, f"{info.path}: default {default!r} not among {info.choices}"
    data: dict = {}
    node = data
    parts = info.path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = "zzz" if isinstance(default, str) else ["zzz"]
    with pytest.raises(ConfigError) as err:
        build(data)
    assert f"config key '{info.path}' must be one of " in err.value.message
    assert ", ".join(info.choices) in err.value.message


def test_allowed_values_are_declared_where_the_validation_reads_them() -> None:
    assert key_info("objective.loss").choices == ("minimax", "nonsaturating", "wasserstein",
                                                  "hinge", "least_squares", "rsgan")
    assert key_info("style.adversary").choices == ("style", "prior")
    assert "all" in key_info("health.fail_on").choices
    # the 25 keys the validation checked against a literal list before issue 20.3
    assert {i.path for i in CHOICE_KEYS} == {
        "augment.policy", "conditional.critic", "conditional.generator",
        "conditional.label_prior", "conditional.reweight", "data.text_errors", "data.text_long",
        "data.vocab_from", "dist.backend", "eval.best_mode", "health.fail_on",
        "model.beta_schedule", "model.d_norm", "model.name", "objective.label_noise_mode",
        "objective.loss", "optim.lr_decay", "optim.precision", "style.adversary",
        "style.importance", "variational.advantage", "variational.classifier_bn",
        "variational.classifier_schedule", "variational.clip_mode", "variational.ratio"}


# ----------------------------------------------------------------- the tasks own their keys
def test_owners_the_text_keys_the_style_and_conditional_sections() -> None:
    owner = {i.path: i.owner for i in keys()}
    assert {p for p, o in owner.items() if o == "text"} == TEXT_KEYS
    assert {p for p, o in owner.items() if o == "style"} == {
        f"style.{f.name}" for f in dataclasses.fields(Config().style)}
    assert {p for p, o in owner.items() if o == "conditional"} == {
        f"conditional.{f.name}" for f in dataclasses.fields(Config().conditional)}
    assert {o for o in owner.values()} == {GENERAL, "text", "style", "conditional"}
    assert {s.path: s.owner for s in sections()}["style"] == "style"


def test_attribute_paths_are_unchanged() -> None:
    cfg = load_config("coco", None, ["data.max_len=12", "model.beta_max=100",
                                     "style.hidden=7", "conditional.aux_weight=0.5"])
    assert (cfg.data.max_len, cfg.model.beta_max, cfg.style.hidden,
            cfg.conditional.aux_weight) == (12, 100.0, 7, 0.5)
    assert isinstance(cfg.data, DataConfig) and isinstance(cfg.model, ModelConfig)
    assert DataConfig(name="coco", max_len=5).max_len == 5
    assert DataConfig.__name__ == "DataConfig" and DataConfig.__module__ == "stablegan.config"
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # the composed classes live under their names
    assert dataclasses.replace(cfg.model, latent_dim=5).beta_max == 100.0


def test_config_has_every_section_without_importing_a_task(tmp_path: Path) -> None:
    got = run_python("""
        import sys
        from stablegan.config import Config
        cfg = Config()
        print(cfg.style.hidden, cfg.conditional.generator, cfg.data.max_len, cfg.pretrain.steps)
        print(sorted(m for m in sys.modules if m.startswith(("stablegan.tasks", "torch"))))
        """, tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == ["128 none None 0", "[]"]


def _architecture_example() -> str:
    """The python block of docs/architecture.md that registers the line task's section."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if 'SCHEMA.add_section("line"' in b]
    return block


@pytest.mark.parametrize("argv", [["config"], ["config", "style.hidden"],
                                  ["config", "--recipe", "coco", "model"]])
def test_config_listing_imports_no_torch(tmp_path: Path, argv: list[str]) -> None:
    got = run_python(f"""
        import sys
        from stablegan.cli import main
        rc = main({argv!r})
        print("RC", rc, [m for m in ("torch", "stablegan.tasks") if m in sys.modules])
        """, tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines()[-1] == "RC 0 []"


def test_a_modality_outside_the_package_registers_its_section(tmp_path: Path) -> None:
    """docs/architecture.md's example, run before stablegan.config is imported, plus a key for
    ``data``: the keys resolve, validate, are listed with their owner and explained, and a
    registration after the schema is composed is refused."""
    got = run_python(_architecture_example() + textwrap.dedent("""
        @dataclass
        class LineData:
            \"\"\"data.* of the line task.\"\"\"
            points: int = key(100, "points on the line")

        SCHEMA.add_keys("data", LineData, owner="line")

        from stablegan.config import explain, key_info
        from stablegan.errors import ConfigError
        from stablegan.recipes import load_config
        cfg = load_config("ring", None, ["line.width=2.5", "data.points=7"])
        print(cfg.line.width, cfg.data.points, key_info("data.points").owner)
        print(explain("line").splitlines()[0])
        try:
            load_config("ring", None, ["line.width=0"])
        except ConfigError as err:
            print(err.message)
        try:
            SCHEMA.add_section("late", LineConfig, owner="late")
        except ConfigError as err:
            print(err.message)
        """), tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == [
        "2.5 7 line",
        "line:                                    # The line task. [owner: line]",
        "config key 'line.width' must be > 0",
        "cannot register section 'late': the config schema is already composed"]


def test_the_schema_refuses_a_key_declared_twice_and_keys_for_no_section() -> None:
    @dataclasses.dataclass
    class General:
        """General."""

        name: str = key("a", "a name")

    @dataclasses.dataclass
    class Clash:
        """Clash."""

        name: str = key("b", "the same name")

    schema = Schema()
    schema.add_keys("data", Clash, owner="other")
    with pytest.raises(ConfigError, match="'data.name' is declared twice"):
        schema.compose("data", General)

    @dataclasses.dataclass
    class Root:
        """Root."""

        steps: int = key(1, "steps")

    schema = Schema()
    schema.add_keys("nowhere", General, owner="other")
    with pytest.raises(ConfigError, match="section 'nowhere', which does not exist"):
        schema.compose_root(Root)
    schema = Schema()
    schema.add_section("line", General, owner="line")
    with pytest.raises(ConfigError, match="'line' is already registered"):
        schema.add_section("line", Root, owner="other")

    @dataclasses.dataclass
    class Extra:
        """Extra."""

        depth: int = key(4, "a depth")

    schema.add_keys("line", Extra, owner="other")  # keys added to a task's section compose too
    root = schema.compose_root(Root)
    assert (root().steps, root().line.name, root().line.depth) == (1, "a", 4)
    assert {i.path: i.owner for i in describe(root, owners=schema.owners)} == {
        "steps": GENERAL, "line.name": "line", "line.depth": "other"}
    # the section stays the task's though another owner added keys to it
    assert [(s.path, s.owner) for s in describe_sections(root, owners=schema.owners)] == [
        ("line", "line")]
    with pytest.raises(ConfigError, match="already composed"):  # stablegan.config composed it
        SCHEMA.add_keys("data", Clash, owner="late")


def test_a_lone_phase_is_named_by_the_steps_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_config("ring", None, ["steps=0"])
    assert err.value.message == (
        "config key 'steps' must be at least 1 (0 only with pretrain.steps > 0: maximum "
        "likelihood alone, or style.autoencoder_steps > 0: the autoencoder alone), got 0")
    assert load_config("yelp-style", None, ["steps=0"]).steps == 0  # the autoencoder alone
    assert load_config("coco", None, ["steps=0", "pretrain.steps=3"]).steps == 0


# ---------------------------------------------------------------------- stablegan config
def test_config_lists_every_key_with_type_default_and_description(capsys) -> None:
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out) == Config().to_dict()  # the defaults, as YAML
    lines = out.splitlines()
    assert all(" # " in line for line in lines)  # every key and section commented
    penalty = next(i for i, line in enumerate(lines) if line.startswith("  gradient_penalty:"))
    assert lines[penalty + 1].startswith("    weight: 0.0 ")
    assert lines[penalty + 1].endswith("# lambda; 0 = off [float]")
    text = next(line for line in lines if line.startswith("  max_len:"))
    assert text.endswith("[int | None; text]")  # a key the text task adds to data
    assert any(line.startswith("style:") and line.endswith("[owner: style]") for line in lines)
    heads = [line.split(" # ")[0].rstrip() for line in lines]
    assert sum(not h.endswith(":") for h in heads) == len(keys())  # one line per key ...
    assert sum(h.endswith(":") for h in heads) == len(sections())  # ... and per section


def test_config_key_explains_one(capsys) -> None:
    assert main(["config", "variational.ratio"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "variational.ratio: classifier",
        "# how r is estimated: classifier (the authors' code), classifier_same_x (Eq. 6 as "
        "printed) or exact (log p)",
        "# type: str; default: classifier; owner: general",
        "# allowed: classifier, classifier_same_x, exact"]
    assert main(["config", "data.vocab_from"]) == 0
    assert "owner: text" in capsys.readouterr().out


def test_config_section_lists_its_keys(capsys) -> None:
    assert main(["config", "schedule"]) == 0
    got = yaml.safe_load(capsys.readouterr().out)
    assert got == {"schedule": Config().to_dict()["schedule"]}


@pytest.mark.parametrize(("word", "guess"), [("optim.glr", "optim.g_lr"), ("stylee", "style"),
                                              ("data.max_lenn", "data.max_len")])
def test_config_unknown_key_says_did_you_mean_and_exits_2(capsys, word, guess) -> None:
    assert main(["config", word]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: unknown config key '{word}'",
                                f"hint: did you mean '{guess}'?"]


def test_config_with_a_recipe_shows_the_resolved_values(capsys) -> None:
    assert main(["config", "--recipe", "coco", "--set", "method=ppo-gan"]) == 0
    out = capsys.readouterr().out
    cfg = load_config("coco", None, ["method=ppo-gan"])
    assert yaml.safe_load(out) == cfg.to_dict()
    clip = next(line for line in out.splitlines() if line.startswith("  clip:"))
    assert clip.split(" # ")[0].strip() == "clip: true" and clip.endswith("[bool; default false]")
    # the recipe's per_method section for ppo-gan, shown against the default
    ratio = next(line for line in out.splitlines() if line.startswith("  ratio:"))
    assert ratio.startswith("  ratio: classifier_same_x") and "default classifier" in ratio
    assert main(["config", "--recipe", "coco", "--set", "method=ppo-gan",
                 "variational.ratio"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "variational.ratio: classifier_same_x"
    assert "default: classifier" in lines[2]
    assert main(["config", "--set", "optim.g_lr=0.003", "optim.g_lr"]) == 0  # over ring
    assert capsys.readouterr().out.splitlines()[0] == "optim.g_lr: 0.003"


def test_explain_is_yaml_that_reads_back_for_every_recipe() -> None:
    from stablegan.recipes import recipe_names

    for recipe in recipe_names():
        cfg = load_config(recipe)
        assert yaml.safe_load(explain(None, cfg)) == cfg.to_dict(), recipe


# ------------------------------------------------------------------------ README's table
def _readme_table() -> list[tuple[list[str], list[str]]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("| group | keys (examples) |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in block.strip().splitlines()[1:]:  # after the |---| line
        cells = line.strip().strip("|").split("|", 1)
        rows.append((re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1])))
    return rows


def _expand(token: str) -> list[str]:
    """``a.{b,c}`` -> a.b, a.c; ``a.b/c`` -> a.b, a.c; ``a=1`` -> a."""
    token = token.split("=")[0]
    brace = re.fullmatch(r"(.*)\{(.*)\}", token)
    if brace:
        return [brace.group(1) + part for part in brace.group(2).split(",")]
    head, *more = token.split("/")
    prefix = head.rsplit(".", 1)[0] + "." if "." in head else ""
    return [head] + [prefix + m for m in more]


def test_readme_config_table_names_only_sections_and_keys_that_exist() -> None:
    known = set(all_keys()) | {s.path for s in sections()}
    rows = _readme_table()
    assert len(rows) >= 10
    missing = []
    for groups, tokens in rows:
        assert groups and all(g in known for g in groups), groups
        for token in (t for t in tokens if " " not in t):  # a command is not a key
            for name in _expand(token):
                if name not in known and not any(f"{g}.{name}" in known for g in groups):
                    missing.append(f"{name} (row {', '.join(groups)})")
    assert not missing, "README's config table names keys the schema does not have: " + \
        "; ".join(missing)
    named = {g for groups, _ in rows for g in groups}
    assert {s.path for s in sections() if "." not in s.path} <= named | {"health"}
    assert "`stablegan config`" in README.read_text(encoding="utf-8")


def test_the_readme_check_catches_a_key_that_is_gone() -> None:
    assert _expand("gradient_penalty.{weight,target}") == ["gradient_penalty.weight",
                                                           "gradient_penalty.target"]
    assert _expand("data.name/path") == ["data.name", "data.path"]
    assert _expand("data.class_folders=true") == ["data.class_folders"]
    assert "objective.los" not in set(all_keys())


def test_the_style_task_refuses_its_impossible_ratio_options_when_the_config_is_built(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The style section's validation (not the method, at build time) refuses the exact ratio
    and per_phase with the sentence critic for style data under clipping, so `stablegan config`
    says so before anything runs; the same keys are fine for other data."""
    style = ["--recipe", "text-style", "--set", "method=ppo-gan"]
    assert main(["config", *style, "--set", "variational.ratio=exact", "variational.ratio"]) == 2
    err = capsys.readouterr().err
    assert "'variational.ratio' = exact" in err and "classifier_same_x" in err
    assert main(["config", *style, "--set", "variational.classifier_schedule=per_phase",
                 "--set", "style.sentence_critic=true", "style"]) == 2
    assert "per_phase" in capsys.readouterr().err
    assert main(["config", *style, "--set", "variational.ratio=classifier_same_x",
                 "variational.ratio"]) == 0
    assert main(["config", "--recipe", "oracle", "--set", "method=ppo-gan", "--set",
                 "variational.ratio=exact", "variational.ratio"]) == 0
    assert main(["config", *style, "--set", "method=nsgan", "--set", "variational.ratio=exact",
                 "variational.ratio"]) == 0  # no clipping: the ratio keys do not apply
