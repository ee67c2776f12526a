"""Class-conditional GANs (issue 22): closed forms of the conditional layers and losses, labels
through the data, the conditional methods, per-class metrics and the bad-input paths."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import make_config
from PIL import Image

from stablegan import lipschitz
from stablegan.cli import main
from stablegan.data import build_data
from stablegan.data.base import FiniteSource
from stablegan.data.tensor import TensorSource
from stablegan.errors import ConfigError, DataError, ShapeError
from stablegan.metrics.conditional import (
    class_accuracy,
    confusion,
    intra_class_fid,
    misassigned_classes,
    per_class_coverage,
)
from stablegan.metrics.frechet import fid_from_features
from stablegan.metrics.prdc import prdc
from stablegan.models.conditional import (
    ConditionalBatchNorm2d,
    ConditionalCritic,
    ConditionalGenerator,
    auxiliary_loss,
    pack,
    per_class_softmax,
    unpack,
)
from stablegan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from stablegan.models.resnet import ResNetGenerator

K = 3


def labelled_file(tmp_path: Path, n: int = 48, k: int = K, labels: torch.Tensor | None = None
                  ) -> Path:
    """n 1x8x8 images whose pixels all equal their label / k (so a label can be read off)."""
    y = torch.arange(n) % k if labels is None else labels
    x = (y.float() / k).reshape(-1, 1, 1, 1).expand(n, 1, 8, 8).contiguous()
    path = tmp_path / "labelled.pt"
    torch.save({"x": x, "y": y}, path)
    return path


def cond_cfg(path: Path, method: str = "cgan-pd", *extra: str, steps: int = 2):
    return make_config("data.name=tensor", f"data.path={path}", "model.name=dcgan",
                       "model.channels=4", "model.latent_dim=4", "data.batch_size=12",
                       "eval.extractor=pixels", *extra, method=method, steps=steps,
                       recipe="digits")


def run_cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


# ------------------------------------------------------------------ closed forms
def test_projection_output_equals_hand_computation() -> None:
    torch.manual_seed(0)
    base = DCGANDiscriminator((1, 8, 8), 4)
    D = ConditionalCritic(base, K, "projection")
    x, y = torch.randn(5, 1, 8, 8), torch.tensor([0, 2, 1, 2, 0])
    h = base.net(x)  # phi(x)
    f = h @ base.head.linear.weight[0] + base.head.linear.bias[0]
    want = f + (D.embed.weight[y] * h).sum(1)
    torch.testing.assert_close(D(x, y), want)
    # labels from the method's slot give the same; another batch size: the mean over classes
    D.labels = y
    torch.testing.assert_close(D(x), want)
    D.labels = y[:2]
    torch.testing.assert_close(D(x), f + h @ D.embed.weight.mean(0))
    with pytest.raises(ShapeError):
        D(x, y[:2])


def test_conditional_batchnorm_equals_bn_with_per_class_affine() -> None:
    torch.manual_seed(1)
    cbn = ConditionalBatchNorm2d(3, K)
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.randn(K, 3))
        cbn.bias.weight.copy_(torch.randn(K, 3))
    x, y = torch.randn(6, 3, 4, 4), torch.tensor([0, 1, 2, 2, 1, 0])
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + 1e-5)
    want = torch.stack([cbn.gain.weight[c][:, None, None] * normed[i]
                        + cbn.bias.weight[c][:, None, None] for i, c in enumerate(y.tolist())])
    torch.testing.assert_close(cbn(x, y), want)
    fresh = ConditionalBatchNorm2d(3, K)  # at initialisation: plain BatchNorm
    torch.testing.assert_close(fresh(x, y), torch.nn.BatchNorm2d(3)(x))


def test_per_class_softmax_matches_a_loop_and_keeps_each_class_share() -> None:
    s = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0, 2.0, -1.0])
    y = torch.tensor([0, 1, 0, 2, 1, 0, 2])
    w = per_class_softmax(s, y, 4, temperature=0.5)
    for c in range(3):
        idx = (y == c).nonzero().flatten()
        torch.testing.assert_close(w[idx], len(idx) * torch.softmax(s[idx] / 0.5, 0))
        assert math.isclose(float(w[idx].sum()), len(idx), rel_tol=1e-6)


def test_auxiliary_loss_is_cross_entropy() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    y = torch.tensor([0, 2])
    want = -(torch.log_softmax(logits, 1)[0, 0] + torch.log_softmax(logits, 1)[1, 2]) / 2
    torch.testing.assert_close(auxiliary_loss(logits, y), want)


def test_pack_unpack_and_generator_modes() -> None:
    z, y = torch.randn(4, 5), torch.tensor([2, 0, 1, 2])
    z2, y2 = unpack(pack(z, y), 5)
    assert torch.equal(z2, z) and torch.equal(y2, y)
    torch.manual_seed(0)
    for base, mode in ((DCGANGenerator((1, 8, 8), 5, 4, True, K), "cbn"),
                       (ResNetGenerator((1, 8, 8), 5, 4, True, K), "cbn"),
                       (DCGANGenerator((1, 8, 8), 5 + 3, 4, True), "concat")):
        G = ConditionalGenerator(base, 5, K, mode, 3 if mode == "concat" else 0)
        out = G(pack(z, y))
        assert out.shape == (4, 1, 8, 8)
        # the class changes the output (the label is an input)
        assert not torch.allclose(G(pack(z, y)), G(pack(z, (y + 1) % K))) or mode == "cbn"
        with pytest.raises(ShapeError):
            G(z)
        with pytest.raises(DataError, match="out of range"):
            G(pack(z, torch.tensor([0, 1, 2, 3])))


def test_gradient_penalty_on_x_y_uses_the_label_of_the_pair() -> None:
    torch.manual_seed(2)
    D = ConditionalCritic(DCGANDiscriminator((1, 8, 8), 4), K, "projection")
    real, fake, y = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    D.labels = y
    torch.manual_seed(5)
    gp, _ = lipschitz.gradient_penalty(D, real, fake, 1.0, False)
    torch.manual_seed(5)  # the same interpolation coefficients, by hand with D(., y)
    eps = torch.rand(4, 1, 1, 1)
    xi = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(xi, y).sum(), xi)
    want = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(gp, want)


# ------------------------------------------------------------------ metrics
def test_class_accuracy_confusion_and_misassigned_flag() -> None:
    req = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    pred = torch.tensor([0, 0, 0, 1, 2, 2, 2, 1, 2, 2, 0, 2])
    conf = confusion(req, pred, 3)
    assert conf.tolist() == [[3, 1, 0], [0, 1, 3], [1, 0, 3]]
    total, per = class_accuracy(req, pred, 3)
    assert total == pytest.approx(7 / 12) and per == pytest.approx([0.75, 0.25, 0.75])
    assert misassigned_classes(conf, 0.5) == ["1 (as 2, 75%)"]
    assert misassigned_classes(conf, 0.5, ["cat", "dog", "emu"]) == ["dog (as emu, 75%)"]
    assert misassigned_classes(conf, 0.2) == []


def test_intra_fid_and_per_class_coverage_are_per_class_means() -> None:
    g = torch.Generator().manual_seed(0)
    ff, rf = torch.randn(60, 3, generator=g), torch.randn(60, 3, generator=g) + 0.5
    fy, ry = torch.arange(60) % 2, torch.arange(60) // 30
    mean, per = intra_class_fid(ff, fy, rf, ry, 2)
    want = [fid_from_features(ff[fy == c], rf[ry == c], warn=False) for c in range(2)]
    assert per == pytest.approx(want) and mean == pytest.approx(sum(want) / 2)
    cmean, cper = per_class_coverage(ff, fy, rf, ry, 2, k=3)
    cwant = [prdc(rf[ry == c], ff[fy == c], k=3)["coverage"] for c in range(2)]
    assert cper == pytest.approx(cwant) and cmean == pytest.approx(sum(cwant) / 2)


# ------------------------------------------------------------------ data
def test_sample_labelled_follows_sample_and_labels_match_items(tmp_path: Path) -> None:
    y = torch.arange(40) % 4
    x = y.float().reshape(-1, 1, 1, 1).expand(40, 1, 2, 2).contiguous()
    a, b = (FiniteSource("t", "images", x, y, seed=3, num_classes=4) for _ in range(2))
    for _ in range(5):  # across epochs: the same items as sample(), and their own labels
        xa = a.sample(8)
        xb, yb = b.sample_labelled(8)
        assert torch.equal(xa, xb) and torch.equal(xb[:, 0, 0, 0].long(), yb)
    assert a.class_counts().sum() == a.size


def test_label_errors_out_of_range_and_wrong_length() -> None:
    x = torch.zeros(10, 2)
    with pytest.raises(DataError, match="out of range for 3 classes"):
        TensorSource(x, labels=torch.tensor([0, 1, 2, 5, 0, 1, 2, 0, 1, 2]), num_classes=3)
    with pytest.raises(DataError, match="labels of shape"):
        TensorSource(x, labels=torch.arange(9))


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)


def test_class_subfolders_give_labels_and_an_empty_class_folder_is_refused(
        tmp_path: Path) -> None:
    for i, name in enumerate(["bird", "cat"]):
        for j in range(6):
            _png(tmp_path / "imgs" / name / f"{j}.png", 40 * (i + 1))
    cfg = make_config("data.name=image-folder", f"data.path={tmp_path / 'imgs'}",
                      "data.class_folders=true", "data.channels=1", "data.batch_size=4",
                      recipe="digits")
    src = build_data(cfg.data, 0)
    assert src.num_classes == 2 and src.class_names == ["bird", "cat"]
    x, y = src.labelled(12)
    # bird images are 40, cat images 80: the label is the folder
    assert torch.equal(((x[:, 0, 0, 0] + 1) * 127.5).round().long(), 40 * (y + 1))
    (tmp_path / "imgs" / "dog").mkdir()
    with pytest.raises(DataError, match="class folder .*dog.* holds no images"):
        build_data(cfg.data, 0)


# ------------------------------------------------------------------ methods
@pytest.mark.parametrize("method,extra", [
    ("cgan-pd", ()), ("acgan", ()),
    ("cgan-ppo", ("schedule.n_critic=1", "schedule.n_gen=2")),
    ("acgan", ("lipschitz.gradient_penalty.weight=1", "augment.policy=translation,cutout",
               "ema.decay=0.9", "objective.loss=rsgan")),
    ("cgan-pd", ("model.name=resnet", "objective.feature_matching=0.5")),
    ("acgan", ("lipschitz.consistency.weight=1", "model.d_dropout=0.2", "model.name=resnet")),
    ("cgan-ppo", ("schedule.n_critic=1", "schedule.n_gen=1", "conditional.reweight=batch",
                  "conditional.generator=concat", "variational.ratio=classifier_same_x")),
])
def test_conditional_methods_train(tmp_path: Path, method: str, extra: tuple[str, ...]) -> None:
    from stablegan.methods.conditional import ConditionalMixin
    from stablegan.training.trainer import Trainer

    cfg = cond_cfg(labelled_file(tmp_path), method, *extra)
    trainer = Trainer.from_config(cfg)
    assert isinstance(trainer.method, ConditionalMixin)
    trainer.fit()
    row = trainer.history[-1]
    assert math.isfinite(row["loss/d"]) and math.isfinite(row["loss/g"])
    if "ac" in method:
        assert "aux/d_real_ce" in row and "aux/g_ce" in row


def test_ac_critic_loss_adds_weighted_cross_entropy_on_real_and_fake(tmp_path: Path) -> None:
    from stablegan.training.trainer import Trainer

    cfg = cond_cfg(labelled_file(tmp_path), "acgan", "conditional.aux_weight=0.3")
    m = Trainer.from_config(cfg).method
    lr, lf = torch.randn(4, K), torch.randn(4, K)
    yr, yf = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 2, 1, 0])
    m._aux = {"real": (lr, yr), "fake": (lf, yf)}
    terms, stats = {}, {}
    out = m.critic_terms(torch.tensor(1.0), terms, stats)
    want = 1.0 + 0.3 * (F.cross_entropy(lr, yr) + F.cross_entropy(lf, yf))
    torch.testing.assert_close(out, want)
    m._aux = {"fake": (lf, yf)}
    torch.testing.assert_close(m.generator_terms(torch.tensor(0.0), {}, {}),
                               0.3 * F.cross_entropy(lf, yf))


def test_critic_step_pairs_fakes_with_the_real_labels(tmp_path: Path) -> None:
    from stablegan.training.trainer import Trainer

    m = Trainer.from_config(cond_cfg(labelled_file(tmp_path))).method
    seen = []
    orig = m.D.forward_features

    def spy(x, y=None):
        seen.append(m.D.labels.clone())
        return orig(x, y)

    m.D.forward_features = spy
    m.d_step()
    assert len(seen) >= 2 and all(torch.equal(s, seen[0]) for s in seen)
    assert torch.equal(seen[0], m.pair.real_labels)


def test_conditional_ratio_classifier_sees_labels_and_is_one_at_phase_start(
        tmp_path: Path) -> None:
    from stablegan.training.trainer import Trainer

    cfg = cond_cfg(labelled_file(tmp_path), "cgan-ppo", "variational.ratio=classifier_same_x",
                   "schedule.n_critic=1", "schedule.n_gen=1")
    m = Trainer.from_config(cfg).method
    assert isinstance(m.C, ConditionalCritic)
    z = m.sample_z(6)
    m.ratio.begin_phase(z)
    x = m.pair.fake(z)
    torch.testing.assert_close(m.ratio.log_ratio(x), torch.zeros(6), atol=1e-6, rtol=0)
    y = unpack(z, m.latent_dim)[1]
    assert torch.equal(m.C.labels, y)


# ------------------------------------------------------------------ bad input, CLI
def test_unlabelled_data_refuses_a_conditional_method(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, err = run_cli("train", "--recipe", "ring-small", "--set", "method=cgan-pd",
                        "--set", "model.name=mlp", "--set", "conditional.generator=concat",
                        "--steps", "2", "--out", str(out), "--quiet")
    assert code == 2, err
    assert "has no labels" in err and "Traceback" not in err
    assert not out.exists()


def test_unpaired_conditioning_and_replay_are_refused() -> None:
    with pytest.raises(ConfigError, match="both networks must see the class"):
        make_config("conditional.generator=cbn", recipe="digits")
    with pytest.raises(ConfigError, match="replay"):
        make_config("replay.size=10", method="cgan-pd", recipe="digits")


@pytest.mark.slow
def test_sample_class_and_grid_and_eval_keys(tmp_path: Path) -> None:
    run = tmp_path / "run"  # digits: the domain classifier is trained on the fly (cached)
    args = ["--set", "model.channels=4", "--set", "model.latent_dim=4",
            "--set", "data.batch_size=12", "--set", "eval.n_samples=200", "--set",
            "log.progress=false"]
    code, err = run_cli("train", "--recipe", "digits", "--set", "method=cgan-pd", *args,
                        "--steps", "2", "--out", str(run), "--quiet")
    assert code == 0, err
    import json
    ev = json.loads((run / "eval.json").read_text())
    for key in ("class_accuracy/classifier", "intra_fid/classifier",
                "intra_coverage/classifier", "floor/class_accuracy/classifier"):
        assert key in ev and math.isfinite(ev[key]), key
    assert isinstance(ev["misassigned"], str)
    from stablegan.reports.html import write_report

    assert "misassigned classes" in write_report(run).read_text()
    code, err = run_cli("sample", "--run", str(run), "--class", "1", "--n", "4",
                        "--out", str(tmp_path / "c1.png"))
    assert code == 0, err and (tmp_path / "c1.png").is_file()
    code, err = run_cli("sample", "--run", str(run), "--out", str(tmp_path / "grid.png"))
    assert code == 0, err
    w, h = Image.open(tmp_path / "grid.png").size
    assert w == h  # K x K: one class per row
    code, err = run_cli("sample", "--run", str(run), "--class", "10")
    assert code == 2 and "out of range" in err


def test_mnist_loader_path_gives_labelled_conditional_batches(tmp_path: Path) -> None:
    """The MNIST reader on small generated idx files (pixels = 20 * label): labelled batches for
    a conditional run, and one cgan-pd step on them (the mnist-cpu networks, narrowed)."""
    from test_data import write_mnist

    from stablegan.training.trainer import Trainer

    write_mnist(tmp_path, gz=True, n=40)
    cfg = make_config(f"data.path={tmp_path}", "data.batch_size=8", "model.channels=2",
                      "model.latent_dim=4", "eval.extractor=pixels", method="cgan-pd",
                      steps=1, recipe="mnist-cpu")
    trainer = Trainer.from_config(cfg)
    x, y = trainer.task.labelled_batch(8)
    torch.testing.assert_close(((x.mean(dim=(1, 2, 3)) + 1) * 127.5).round(), 20.0 * y.float())
    assert trainer.task.num_classes == 10 and trainer.task.n_display == 100
    trainer.fit()
    assert math.isfinite(trainer.history[-1]["loss/d"])


@pytest.mark.slow
@pytest.mark.parametrize("method", ["cgan-pd", "cgan-ppo"])
def test_conditional_run_resumes_on_the_same_trajectory(tmp_path: Path, method: str) -> None:
    from conftest import assert_states_identical

    from stablegan.training.trainer import Trainer

    extra = ("schedule.n_critic=1", "schedule.n_gen=2") if method == "cgan-ppo" else ()
    cfg = cond_cfg(labelled_file(tmp_path), method, *extra, "log.checkpoint_every=2",
                   "ema.decay=0.5", steps=4)
    whole = Trainer.from_config(cfg, out_dir=tmp_path / "A")
    whole.fit()
    first = Trainer.from_config(cfg, out_dir=tmp_path / "B")
    first.fit(steps=2)
    second = Trainer.from_config(cfg, out_dir=tmp_path / "B")
    assert second.resume() == []
    second.fit()
    a, b = whole.state_dict(), second.state_dict()
    assert_states_identical(a["networks"], b["networks"])
    assert_states_identical(a["ema"], b["ema"])


def test_sharded_labelled_batches_are_the_ranks_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    from stablegan.training import distributed

    y = torch.arange(40) % 4
    x = y.float().reshape(-1, 1, 1, 1).expand(40, 1, 2, 2).contiguous()
    whole_x, whole_y = FiniteSource("t", "images", x, y, seed=1, num_classes=4).sample_labelled(8)
    parts = []
    for r in range(2):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world_size", lambda: 2)
        src = distributed.ShardedSource(FiniteSource("t", "images", x, y, seed=1, num_classes=4))
        parts.append(src.sample_labelled(4))
    assert torch.equal(torch.cat([p[0] for p in parts]), whole_x)
    assert torch.equal(torch.cat([p[1] for p in parts]), whole_y)
