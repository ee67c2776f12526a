"""Reliability: bad input never gives a traceback or exit code 1.

* property-based: random key/value mutations of every shipped recipe, run through
  ``stablegan train`` (in-process ``cli.main``, tiny models, 2 iterations, offline stand-ins for
  the datasets): exit 0, or exit 2 with a one-line reason naming a mutated key;
* bad data through the CLI: damaged, odd-mode and mixed-size images, empty and binary tensor
  files, a data set smaller than the batch;
* user modules through the API: wrong output shape, wrong critic shape, out-of-range images.
"""

from __future__ import annotations

import contextlib
import copy
import io
import pickle
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from stablegan.cli import main
from stablegan.config import all_keys
from stablegan.errors import ShapeError
from stablegan.recipes import recipe_dict, recipe_names
from stablegan.training.trainer import Trainer

FUZZ_EXAMPLES = 10  # per recipe (every shipped recipe; see docs/reliability.md)
# pixel-space metrics: the default extractor would train (and cache) a domain classifier for
# small labelled data sets, ~5 s each time a mutation changes the data
TINY = {"steps": 2, "model": {"hidden": 8, "layers": 1, "channels": 4, "latent_dim": 4},
        "data": {"batch_size": 8}, "eval": {"n_samples": 64, "extractor": "pixels"},
        "log": {"every": 1, "checkpoint_every": 1, "progress": False}}


def run_cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


def assert_user_error(code: int, err: str, *must: str) -> str:
    """Exit 2, an ``error:`` line (plus optional hint/warnings), no traceback; returns it."""
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for text in must:
        assert text in err, (text, err)
    return errors[0]


# ---------------------------------------------------------------------------------------------
# offline stand-ins for the recipes' datasets
# ---------------------------------------------------------------------------------------------

def write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def png(path: Path, size=(8, 8), mode="RGB", seed=0) -> Path:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65535, size[::-1], dtype=np.uint16))
    else:
        channels = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2, "CMYK": 4}[mode]
        arr = rng.integers(0, 255, (*size[::-1], channels), dtype=np.uint8)
        im = Image.fromarray(arr[..., 0] if channels == 1 else arr,
                             None if mode in ("RGB", "RGBA") else mode)
    if mode == "CMYK":
        path = path.with_suffix(".jpg")
        im.save(path, format="JPEG")
    else:
        im.save(path, format="PNG")
    return path


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("datasets")
    rng = np.random.default_rng(0)
    raw = root / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 255, (40, 28, 28)))
    write_idx(raw / "train-labels-idx1-ubyte", rng.integers(0, 10, (40,)))
    cifar = root / "cifar" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for i in range(1, 6):
        batch = {"data": rng.integers(0, 255, (8, 3072)).astype(np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, 8)]}
        (cifar / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    folder = root / "images"
    folder.mkdir()
    for i in range(24):
        png(folder / f"{i:02d}.png", seed=i)
    words = "a man rides a red bike . two dogs play in the park near a tree".split()
    lines = [" ".join(rng.choice(words, size=int(rng.integers(3, 9)))) for _ in range(60)]
    coco = root / "coco"
    coco.mkdir()
    (coco / "train.txt").write_text("\n".join(lines[:40]) + "\n")
    (coco / "test.txt").write_text("\n".join(lines[40:]) + "\n")
    news = root / "news"
    (news / "testdata").mkdir(parents=True)
    (news / "emnlp_news.txt").write_text("\n".join(lines[:40]) + "\n")
    (news / "testdata" / "test_emnlp.txt").write_text("\n".join(lines[40:]) + "\n")
    style = root / "style"  # Shen et al.'s format: yelp-style's and text-style's split names
    style.mkdir()
    for split, n in (("dev", 40), ("manual", 6), ("train", 40), ("test", 6)):
        (style / f"sentiment.{split}.text").write_text("\n".join(lines[:n]) + "\n")
        (style / f"sentiment.{split}.labels").write_text("\n".join("01"[i % 2]
                                                                  for i in range(n)) + "\n")
    return {"yelp-style": str(style), "text-style": str(style),
            "mnist": str(root / "mnist"), "mnist-cpu": str(root / "mnist"),
            "cifar10-dcgan": str(root / "cifar"), "cifar10-cpu": str(root / "cifar"),
            "cifar10-resnet": str(root / "cifar"), "image-folder": str(folder),
            "coco": str(coco), "emnlp-news": str(news), "text-file": str(coco / "train.txt"),
            "oracle": str(root / "oracle-cache")}


# text recipes: tiny RelGAN networks, a small oracle, two pre-training steps
TINY_TEXT = {"model": {"embed_dim": 4, "head_size": 4, "d_embed_dim": 8, "num_rep": 2,
                       "d_filters": 4},
             "data": {"oracle_train": 64, "oracle_test": 32, "max_len": 6},
             "pretrain": {"steps": 2}, "eval": {"extractor": "auto"}}

# style recipes: tiny autoencoder, classifiers and two pre-training steps
TINY_STYLE = {"style": {"embed_dim": 4, "hidden": 4, "z_dim": 4, "c_dim": 2, "critic_hidden": 4,
                        "classifier_filters": 2, "autoencoder_steps": 2,
                        "eval_classifier_epochs": 1}}


def base_config(recipe: str, datasets: dict[str, str]) -> dict:
    from stablegan.config import deep_merge

    cfg = deep_merge(recipe_dict(recipe), TINY)
    if cfg["data"]["name"] in ("oracle", "coco", "emnlp-news", "text-file"):
        cfg = deep_merge(cfg, TINY_TEXT)
    if cfg["data"]["name"] in ("yelp-style", "text-style"):
        cfg = deep_merge(cfg, TINY_STYLE)
    if recipe in datasets:
        cfg["data"]["path"] = datasets[recipe]
    return cfg


@pytest.mark.parametrize("recipe", recipe_names())
@pytest.mark.slow
def test_every_recipe_runs_offline_with_tiny_overrides(recipe, datasets, tmp_path):
    """The fuzz baseline: unmutated, every recipe trains (so a refusal below is the mutation's)."""
    import yaml

    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(base_config(recipe, datasets)))
    code, err = run_cli("train", "--config", str(cfg_file), "--out", str(tmp_path / "run"))
    assert code == 0, err


KEYS = all_keys()
SECTIONS = sorted({k.split(".")[0] for k in KEYS if "." in k})
# mostly real keys (their values are what is interesting), some sections, typos and junk
KEY_POOL = (KEYS * 4 + SECTIONS + [k[:-1] + "x" for k in KEYS[::5]]
            + ["x", "data..name", "model.hidden.width", "data.name.sub", "__class__", "Steps"])
# size-like keys: large values only make the run slow, so they are clamped (types, signs, zero,
# NaN and inf still reach the validation untouched)
CLAMP = {"steps": 3, "model.hidden": 16, "model.channels": 8, "model.layers": 2,
         "model.latent_dim": 16, "model.minibatch_discrimination": 4, "schedule.n_critic": 3,
         "schedule.n_gen": 3, "schedule.d_warmup": 3, "unrolled.steps": 2,
         "variational.classifier_warmup": 3, "replay.size": 64, "eval.n_samples": 128,
         "data.batch_size": 32, "data.image_size": 16, "eval.k": 5,
         "data.oracle_train": 128, "data.oracle_test": 64, "data.max_len": 8, "pretrain.steps": 3,
         "model.embed_dim": 8, "model.lstm_hidden": 8, "model.head_size": 8,
         "model.num_heads": 2, "model.mem_slots": 2, "model.d_embed_dim": 16, "model.num_rep": 4,
         "model.d_filters": 8}
values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70),
    st.floats(-2.0, 2.0, allow_nan=False),
    st.sampled_from([0, 1, -1, 0.5, 1e-9, 1e9, float("nan"), float("inf"), -float("inf")]),
    st.text(max_size=6),
    st.sampled_from(["", "auto", "mlp", "dcgan", "resnet", "none", "linear", "batch", "layer",
                     "cuda", "cuda:3", "translation,cutout", "color", "min", "max", "exact",
                     "swd", "ring", "digits", "tensor", "wgan-gp", "ppo-gan", "[0.5, 0.9]"]),
    st.lists(st.integers(-2, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "name", "weight"]), st.integers(-1, 2), max_size=2),
)
mutations = st.lists(st.tuples(st.sampled_from(["set", "set", "set", "delete"]),
                               st.sampled_from(KEY_POOL), values), min_size=1, max_size=3)


def mutate(cfg: dict, ops) -> tuple[dict, list[str]]:
    """Apply ``(op, dotted key, value)`` operations; returns the config and the keys changed."""
    cfg = copy.deepcopy(cfg)
    touched: list[str] = []
    for op, key, value in ops:
        parts = [p for p in key.split(".") if p] or ["x"]
        if op == "delete":
            node = cfg
            for p in parts[:-1]:
                node = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, dict) and parts[-1] in node:
                node.pop(parts[-1])
                touched.append(".".join(parts))
            continue
        node = cfg
        for i, p in enumerate(parts[:-1]):
            if not isinstance(node.get(p), dict):
                if p in node:  # a value replaced by a section: that key changed too
                    touched.append(".".join(parts[: i + 1]))
                node[p] = {}
            node = node[p]
        bound = CLAMP.get(".".join(parts))
        if bound is not None and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and value > bound:
            value = bound
        node[parts[-1]] = value
        touched.append(".".join(parts))
    return cfg, touched


def names_a_key(err: str, touched: list[str]) -> bool:
    """The reason names a mutated key (dotted, or its last part), a section it lies in, or a
    key of the preset its 'method' mutation selected."""
    low = err.lower()
    for key in touched:
        parts = key.split(".")
        if key.lower() in low or any(f"'{p.lower()}'" in low or f"{p.lower()}" in low
                                     for p in parts if len(p) > 2):
            return True
    return False


@pytest.mark.parametrize("recipe", recipe_names())
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=mutations)
@pytest.mark.slow
def test_mutated_recipe_runs_or_fails_with_exit_2_naming_the_key(recipe, datasets, ops):
    import yaml

    cfg, touched = mutate(base_config(recipe, datasets), ops)
    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = Path(tmp) / "cfg.yaml"
        cfg_file.write_text(yaml.safe_dump(cfg))
        code, err = run_cli("train", "--config", str(cfg_file), "--out", str(Path(tmp) / "run"))
    if code == 0 or not touched:
        assert code == 0, err
        return
    line = assert_user_error(code, err)
    if "training diverged" in line:  # a legal config that diverges: diagnosed, not a crash
        return
    assert names_a_key(err, touched), (touched, err)


def test_config_errors_are_one_line_and_name_the_key(tmp_path):
    cases = {
        "optim.g_lr=-1": "optim.g_lr", "data.batch_size=x": "data.batch_size",
        "model.nam=mlp": "model.name", "device=cuda:7": "device", "device=tpu": "device",
        "method=wgan_gp": "wgan-gp", "optim.betas=[0.5]": "optim.betas",
        "replay.fraction=0.5": "replay.size", "log=3": "log",
    }
    for override, key in cases.items():
        code, err = run_cli("train", "--recipe", "ring", "--steps", "2", "--set", override,
                            "--out", str(tmp_path / "run"))
        line = assert_user_error(code, err, key)
        assert len(line) < 300, line


# ---------------------------------------------------------------------------------------------
# bad data through the CLI
# ---------------------------------------------------------------------------------------------

def folder_cli(folder: Path, out: Path, *extra: str) -> tuple[int, str]:
    return run_cli("train", "--recipe", "image-folder", "--steps", "2", "--quiet",
                   "--set", f"data.path={folder}", "--set", "data.image_size=8",
                   "--set", "data.batch_size=4", "--set", "model.channels=4",
                   "--set", "model.latent_dim=4", "--set", "eval.n_samples=16",
                   "--out", str(out), *extra)


def good_folder(root: Path, n: int = 8) -> Path:
    root.mkdir()
    for i in range(n):
        png(root / f"good{i}.png", seed=i)
    return root


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "zero-byte", "not-an-image"])
def test_damaged_image_in_folder_is_named(tmp_path, damage):
    folder = good_folder(tmp_path / "imgs")
    good = (folder / "good0.png").read_bytes()
    bad = folder / "bad.png"
    bad.write_bytes({"corrupt": good[:16] + bytes(range(256)) * 4,
                     "truncated": good[: len(good) // 2],
                     "zero-byte": b"",
                     "not-an-image": b"hello, I am text\n" * 10}[damage])
    code, err = folder_cli(folder, tmp_path / "run")
    assert_user_error(code, err, "unreadable image file", str(bad))


@pytest.mark.slow
def test_odd_image_modes_are_converted_and_train(tmp_path):
    folder = good_folder(tmp_path / "imgs")
    png(folder / "cmyk.png", mode="CMYK")
    png(folder / "alpha.png", mode="RGBA")
    png(folder / "grey16.png", mode="I;16")
    png(folder / "grey-alpha.png", mode="LA")
    png(folder / "big.png", size=(20, 13))  # resized by data.image_size
    code, err = folder_cli(folder, tmp_path / "run")
    assert code == 0, err


def test_mixed_sizes_without_image_size_name_two_files(tmp_path):
    folder = good_folder(tmp_path / "imgs")
    png(folder / "wide.png", size=(12, 8))
    code, err = run_cli("train", "--recipe", "image-folder", "--steps", "2",
                        "--set", f"data.path={folder}", "--set", "data.image_size=null",
                        "--out", str(tmp_path / "run"))
    assert_user_error(code, err, "have different sizes", "wide.png", "data.image_size")


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    code, err = folder_cli(tmp_path / "empty", tmp_path / "run")
    assert_user_error(code, err, "no images")
    code, err = folder_cli(tmp_path / "nowhere", tmp_path / "run2")
    assert_user_error(code, err, "does not exist")


def test_dataset_smaller_than_batch(tmp_path):
    folder = good_folder(tmp_path / "imgs", n=5)
    code, err = folder_cli(folder, tmp_path / "run", "--set", "data.batch_size=16")
    assert_user_error(code, err, "fewer than the batch size 16", "data.batch_size")


@pytest.mark.parametrize("content", ["empty", "binary", "text", "pickle-object", "scalar",
                                     "nan", "3-d"])
def test_bad_tensor_files(tmp_path, content):
    """No text data source exists: the ``tensor`` source gets the empty/binary-file cases."""
    path = tmp_path / "data.pt"
    if content == "empty":
        path.write_bytes(b"")
    elif content == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    elif content == "text":
        path.write_text("the quick brown fox\n" * 100)
    elif content == "pickle-object":
        torch.save({"x": Path("not a tensor")}, path)
    elif content == "scalar":
        torch.save(torch.tensor(3.0), path)
    elif content == "nan":
        torch.save(torch.full((64, 2), float("nan")), path)
    else:
        torch.save(torch.zeros(64, 2, 2), path)
    code, err = run_cli("train", "--recipe", "ring", "--steps", "2", "--set", "data.name=tensor",
                        "--set", f"data.path={path}", "--out", str(tmp_path / "run"))
    assert_user_error(code, err, str(path))


def test_tensor_file_smaller_than_batch(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((10, 2), dtype=np.float32))
    code, err = run_cli("train", "--recipe", "ring", "--steps", "2", "--set", "data.name=tensor",
                        "--set", f"data.path={path}", "--set", "data.batch_size=64",
                        "--out", str(tmp_path / "run"))
    assert_user_error(code, err, "fewer than the batch size 64")


# ---------------------------------------------------------------------------------------------
# user modules (Python API)
# ---------------------------------------------------------------------------------------------

class Gen(nn.Module):
    def __init__(self, shape, scale=1.0, tanh=True, latent_dim=4):
        super().__init__()
        self.latent_dim, self.shape, self.scale, self.tanh = latent_dim, shape, scale, tanh
        self.fc = nn.Linear(latent_dim, int(np.prod(shape)))

    def forward(self, z):
        x = self.fc(z).view(-1, *self.shape) * self.scale
        return torch.tanh(x) if self.tanh else x


class Disc(nn.Module):
    def __init__(self, shape, out_shape=(1,)):
        super().__init__()
        self.fc = nn.Linear(int(np.prod(shape)), int(np.prod(out_shape)))
        self.out_shape = out_shape

    def forward(self, x):
        return self.fc(x.flatten(1)).view(-1, *self.out_shape)


IMAGES = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
CFG = {"steps": 12, "data": {"batch_size": 16}, "eval": {"n_samples": 32},
       "log": {"progress": False}}


def test_generator_with_wrong_output_shape():
    with pytest.raises(ShapeError, match=r"shape \(1, 4, 4\) but the data 'tensor' has shape "
                                         r"\(1, 8, 8\)"):
        Trainer(Gen((1, 4, 4)), Disc((1, 8, 8)), IMAGES, CFG)


def test_generator_that_fails_on_z():
    g = Gen((1, 8, 8))
    g.latent_dim = 5  # lies about its input size
    with pytest.raises(ShapeError, match="the generator failed on z of shape"):
        Trainer(g, Disc((1, 8, 8)), IMAGES, CFG)


@pytest.mark.parametrize("out_shape", [(2,), (1, 1, 1)])
def test_discriminator_with_wrong_output_shape(out_shape):
    with pytest.raises(ShapeError, match="the discriminator returned shape"):
        Trainer(Gen((1, 8, 8)), Disc((1, 8, 8), out_shape), IMAGES, CFG)


def test_discriminator_that_rejects_the_data_shape():
    with pytest.raises(ShapeError, match="the discriminator failed on a batch of shape"):
        Trainer(Gen((1, 8, 8)), Disc((1, 4, 4)), IMAGES, CFG)


def test_tanh_less_generator_on_images_warns_once(capsys):
    t = Trainer(Gen((1, 8, 8), scale=20.0, tanh=False), Disc((1, 8, 8)), IMAGES, CFG)
    t.fit()
    err = capsys.readouterr().err
    assert err.count("warning: generated images span") == 1, err
    assert "at step 0 but the data lies in [-1, 1]" in err and "end in tanh" in err


def test_tanh_generator_on_images_does_not_warn(capsys):
    t = Trainer(Gen((1, 8, 8), scale=20.0), Disc((1, 8, 8)), IMAGES, CFG)
    t.fit()
    assert "generated images span" not in capsys.readouterr().err


def test_range_warning_follows_the_data_range(capsys):
    """Data in [0, 255] (not rescaled) with a tanh generator: nothing is "far outside"; a
    generator at the data's scale does not warn either."""
    data = torch.rand(64, 1, 8, 8) * 255
    Trainer(Gen((1, 8, 8), scale=30.0, tanh=False), Disc((1, 8, 8)), data, CFG).fit()
    assert "generated images span" not in capsys.readouterr().err


def test_classifier_extractor_without_classifier_fails_before_training(tmp_path):
    """Unlabelled images and eval.extractor=classifier: no classifier can exist, so the run
    stops before step 1 (not after the budget, at the final evaluation)."""
    folder = good_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    code, err = folder_cli(folder, out, "--set", "eval.extractor=classifier")
    assert_user_error(code, err, "eval.extractor=classifier but there is no domain classifier",
                      "its data has no labels")
    assert not (out / "checkpoints" / "last.pt").exists()
