"""Reliability: divergence, disk problems, resume compatibility and unsafe files.

Faults are injected in-process (a discriminator that returns NaN, a weight set to NaN mid-run,
OSError(ENOSPC/EROFS) from the file system) and checked through the trainer API and through
``stablegan.cli.main`` (exit codes and messages).
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import os
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import stablegan.core.checkpoint as ck  # where the checkpoint file is opened
import stablegan.training.state as training_state
from stablegan.cli import main
from stablegan.configure import from_dict
from stablegan.data import build_data
from stablegan.errors import CheckpointError, DivergenceError
from stablegan.models import build_models
from stablegan.recipes import recipe_dict
from stablegan.training.checkpoint import (
    MAGIC,
    TRAILER,
    load_checkpoint,
    load_latest,
    previous_path,
)
from stablegan.training.trainer import Trainer

# end-to-end runs (training subprocesses, kills, faults): `make test` only, not test-fast
pytestmark = pytest.mark.slow

TINY = ["--set", "model.hidden=16", "--set", "data.batch_size=32", "--set", "eval.n_samples=200",
        "--set", "log.checkpoint_every=5", "--set", "log.every=1", "--quiet"]


# ring-small: the ring recipe these tests were written on (lr 1e-4, no decay); messages below
# name its learning rates
def train(out: Path, *extra: str, steps: int = 10, recipe: str = "ring-small") -> int:
    return main(["train", "--recipe", recipe, "--steps", str(steps), *TINY, "--out", str(out),
                 *extra])


def all_finite(state: dict) -> bool:
    ok = True

    def walk(x):
        nonlocal ok
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            ok = ok and bool(torch.isfinite(x).all())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk({k: state[k] for k in ("networks", "optimizers", "ema")})
    return ok


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# divergence
# ---------------------------------------------------------------------------------------------

class NaNCritic(nn.Module):
    """Wraps a discriminator; returns NaN scores on call ``at`` (or every call from ``at`` on)."""

    def __init__(self, inner: nn.Module, at: int, persistent: bool = False) -> None:
        super().__init__()
        self.inner, self.at, self.persistent, self.calls = inner, at, persistent, 0

    def forward(self, x):
        self.calls += 1
        out = self.inner(x)
        if self.calls == self.at or (self.persistent and self.calls >= self.at):
            out = out * float("nan")
        return out


def ring_trainer(tmp_path: Path, critic=None, **cfg) -> Trainer:
    config = from_dict({**recipe_dict("ring-small"), "steps": 30,
                        "model": {"name": "mlp", "hidden": 16, "latent_dim": 2},
                        "data": {"name": "ring", "batch_size": 32},
                        "eval": {"n_samples": 200},
                        "log": {"every": 1, "checkpoint_every": 5, "progress": False}, **cfg})
    torch.manual_seed(0)
    data = build_data(config.data, config.seed)
    G, D = build_models(config.model, tuple(data.sample_shape))
    if critic is not None:
        D = critic(D)
    return Trainer(G, D, data, config, out_dir=tmp_path / "run")


def test_transient_nan_in_critic_rolls_back_lowers_lr_and_finishes(tmp_path, capsys):
    # D is called once at construction, then 4 times per iteration (real, fake, the logged input
    # gradient norm, G step): call 42 scores the reals of step 11
    t = ring_trainer(tmp_path, critic=lambda D: NaNCritic(D, at=42))
    t.fit()
    err = capsys.readouterr().err
    assert "warning: non-finite value at step 11: non-finite adversarial loss in network D" in err
    assert "rolled back to step 10" in err
    assert "lowered the learning rates by fault.lr_factor=0.5 to 0.5x" in err
    assert "G lr 5e-05, D lr 5e-05" in err and "(rollback 1/3)" in err
    assert t.step == 30 and t.rollbacks == 1 and t.lr_scale == 0.5
    state = load_checkpoint(t.checkpoint_path)
    assert state["rollbacks"] == 1 and state["lr_scale"] == 0.5 and all_finite(state)
    rows = t.history
    steps = [r["step"] for r in rows]
    assert steps == list(range(1, 31)), "the rows of the abandoned steps were not dropped"
    lr_before = [r["lr/g"] for r in rows if r["step"] <= 10]
    lr_after = [r["lr/g"] for r in rows if r["step"] > 10]
    assert set(lr_before) == {1e-4} and set(lr_after) == {5e-5}
    logged = (t.out_dir / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 30


def test_persistent_nan_gives_up_with_diagnosis_and_keeps_good_checkpoint(tmp_path):
    t = ring_trainer(tmp_path, critic=lambda D: NaNCritic(D, at=42, persistent=True))
    with pytest.raises(DivergenceError) as info:
        t.fit()
    msg = info.value.message
    assert msg.startswith("training diverged at step 11: ")
    assert "non-finite adversarial loss in network D" in msg
    assert "gave up after 3 rollback(s), learning rates at 0.125x" in msg
    assert "the last good checkpoint (step 10) is intact" in info.value.hint
    state, used, warnings = load_latest(t.checkpoint_path)
    assert used == t.checkpoint_path and not warnings
    assert state["step"] == 10 and all_finite(state)


def test_nan_weight_mid_run_is_named_and_rolled_back(tmp_path, monkeypatch, capsys):
    from stablegan.methods.gan import GANMethod

    original, poisoned = GANMethod.iteration, []

    def iteration(self, index=0, diagnostics=False):
        stats = original(self, index, diagnostics)
        if index + 1 == 7 and not poisoned:  # poison G during step 7, once
            poisoned.append(index)
            with torch.no_grad():
                next(self.G.parameters()).view(-1)[0] = float("nan")
        return stats

    monkeypatch.setattr(GANMethod, "iteration", iteration)
    t = ring_trainer(tmp_path)
    name = next(iter(dict(t.method.G.named_parameters())))
    t.fit(12)
    err = capsys.readouterr().err
    assert f"non-finite value at step 7: non-finite weight {name} in network G" in err
    assert "rolled back to step 5" in err
    assert t.step == 12 and t.lr_scale == 0.5


def test_nan_weight_without_rollbacks_stops_cli_with_exit_2(tmp_path, monkeypatch, capsys):
    from stablegan.methods.gan import GANMethod

    original = GANMethod.iteration

    def iteration(self, index=0, diagnostics=False):
        stats = original(self, index, diagnostics)
        if index + 1 == 8:
            with torch.no_grad():
                next(self.D.parameters()).view(-1)[0] = float("inf")
        return stats

    monkeypatch.setattr(GANMethod, "iteration", iteration)
    out = tmp_path / "run"
    assert train(out, "--set", "fault.max_rollbacks=0") == 2
    err = capsys.readouterr().err
    assert "error: training diverged at step 8: non-finite weight" in err
    assert "in network D; gave up after 0 rollback(s)" in err
    assert "Traceback" not in err
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    assert state["step"] == 5 and all_finite(state)


def test_cli_divergence_exit_2_checkpoint_finite_and_loadable(tmp_path, monkeypatch, capsys):
    from stablegan.methods.gan import GANMethod

    original = GANMethod.critic_scores
    calls = {"n": 0}

    def critic_scores(self, x, name):
        calls["n"] += 1
        s = original(self, x, name)
        return s * float("nan") if calls["n"] > 45 else s

    monkeypatch.setattr(GANMethod, "critic_scores", critic_scores)
    out = tmp_path / "run"
    assert train(out, steps=40) == 2
    err = capsys.readouterr().err
    assert err.count("warning: non-finite value at step") == 3
    assert "error: training diverged at step" in err and "gave up after 3 rollback(s)" in err
    assert "hint:" in err and "is intact in" in err
    monkeypatch.undo()
    state, used, warnings = load_latest(out / "checkpoints" / "last.pt")
    assert not warnings and all_finite(state) and 0 < state["step"] < 40
    before = tree_digest(out / "checkpoints")
    # the intact checkpoint serves sample and eval
    assert main(["sample", "--run", str(out), "--n", "8"]) == 0
    assert tree_digest(out / "checkpoints") == before


def test_nonfinite_state_is_never_saved_over_a_good_checkpoint(tmp_path):
    t = ring_trainer(tmp_path)
    t.fit(5)
    good = t.checkpoint_path.read_bytes()
    with torch.no_grad():
        next(t.method.G.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(Exception, match="non-finite weight"):
        t.save()
    assert t.checkpoint_path.read_bytes() == good
    with torch.no_grad():
        next(t.method.G.parameters()).view(-1)[0] = 0.0
    opt = t.method.optimizers["D"]
    first = next(iter(opt.state.values()))
    first["exp_avg_sq"].view(-1)[0] = float("nan")
    with pytest.raises(Exception, match="non-finite optimiser state"):
        t.save()
    assert t.checkpoint_path.read_bytes() == good


def test_nan_during_warmup_is_rolled_back_like_any_step(tmp_path, capsys):
    # the warm-up is a phase of its own: a transient NaN there is rolled back, as elsewhere
    # D calls: 1 at construction, then real, fake and the logged gradient norm per critic step
    t = ring_trainer(tmp_path, critic=lambda D: NaNCritic(D, at=5),
                     schedule={"d_warmup": 3})
    t.fit(3)
    err = capsys.readouterr().err
    assert "non-finite value at step 2 of phase 'warmup'" in err and "network D" in err
    assert t.rollbacks == 1 and t.phase_steps == {"warmup": 3} and t.step == 3


def test_persistent_nan_during_warmup_is_a_divergence_error(tmp_path):
    t = ring_trainer(tmp_path, critic=lambda D: NaNCritic(D, at=4, persistent=True),
                     schedule={"d_warmup": 3})
    with pytest.raises(DivergenceError, match="diverged at step 2 of phase 'warmup'.*network D"):
        t.fit()
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 0 and state["phase"] == "warmup" and all_finite(state)


# ---------------------------------------------------------------------------------------------
# disk full, read-only run directory
# ---------------------------------------------------------------------------------------------

def enospc(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class FailingFile:
    """A file whose writes store half the data and then fail with ``code``."""

    def __init__(self, fh, code):
        self.fh, self.code = fh, code

    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        raise OSError(self.code, os.strerror(self.code))

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def test_disk_full_during_checkpoint_write_keeps_previous_and_says_so(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "run"
    saves = {"n": 0}
    real_open = builtins.open

    def ck_open(path, mode="r", *a, **k):
        if "w" in mode:
            saves["n"] += 1
            if saves["n"] == 3:  # the third checkpoint (step 10) hits a full disk
                return FailingFile(real_open(path, mode, *a, **k), errno.ENOSPC)
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr(ck, "open", ck_open, raising=False)
    assert train(out, steps=20) == 2
    err = capsys.readouterr().err
    assert f"error: could not write checkpoint {out / 'checkpoints' / 'last.pt'}: " \
           "No space left on device" in err
    assert "the previous checkpoint on disk is unchanged" in err
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 5
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt", "last.pt.prev"]
    monkeypatch.undo()
    assert train(out, "--resume", steps=20) == 0  # space freed: the run goes on
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 20


def test_disk_full_on_sample_write_warns_and_trains_on(tmp_path, monkeypatch, capsys):
    import stablegan.reports.plots as reports  # the module the tasks call save_samples from

    out = tmp_path / "run"
    real = reports.save_samples

    def save_samples(x, path, **k):
        # the writer gets a temporary name (".step_000010.tmp-<pid>.png"): match the step, not
        # a bare "10", which a pid can contain
        if Path(path).name.startswith(".step_000010."):
            Path(path).write_bytes(b"\x89PNG partial")  # a torn file, then the error
            enospc()
        return real(x, path, **k)

    monkeypatch.setattr(reports, "save_samples", save_samples)
    assert train(out, "--set", "log.sample_every=5", steps=15) == 0
    err = capsys.readouterr().err
    assert f"warning: could not write samples {out / 'samples' / 'step_000010.png'}: " \
           "No space left on device (the disk is full); training goes on" in err
    names = sorted(p.name for p in (out / "samples").iterdir())
    assert names == ["step_000005.png", "step_000015.png"]  # no torn file, no temporary


def test_disk_full_on_metrics_log_stops_with_clear_message(tmp_path, monkeypatch, capsys):
    import stablegan.training.logging as lg

    out = tmp_path / "run"
    rows = {"n": 0}
    real_open = builtins.open

    class Log:
        def __init__(self, fh):
            self.fh = fh

        def write(self, text):
            rows["n"] += 1
            if rows["n"] == 7:
                enospc()
            return self.fh.write(text)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(lg, "open", lambda *a, **k: Log(real_open(*a, **k)), raising=False)
    assert train(out, steps=20) == 2
    err = capsys.readouterr().err
    assert "error: could not write the log" in err and "metrics.jsonl" in err
    assert "(the disk is full)" in err and "Traceback" not in err
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 5


def read_only(monkeypatch, root: Path, after: int = 0):
    """Every write (open for writing, rename, link, mkdir) under ``root`` fails with EROFS once
    ``after`` writes have succeeded; root-proof, unlike chmod."""
    count = {"n": 0}
    real_open, real_replace, real_link, real_mkdir = builtins.open, os.replace, os.link, os.mkdir

    def blocked(path) -> bool:
        try:
            inside = Path(os.fspath(path)).resolve().is_relative_to(root.resolve())
        except TypeError:
            return False
        if not inside:
            return False
        count["n"] += 1
        return count["n"] > after

    def erofs():
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    def guarded_open(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+") and blocked(file):
            erofs()
        return real_open(file, mode, *a, **k)

    def guarded(real):
        def f(src, dst, *a, **k):
            if blocked(dst):
                erofs()
            return real(src, dst, *a, **k)
        return f

    def guarded_mkdir(path, *a, **k):
        if blocked(path):
            erofs()
        return real_mkdir(path, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "replace", guarded(real_replace))
    monkeypatch.setattr(os, "link", guarded(real_link))
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


@pytest.mark.parametrize("after", [0, 3, 9, 17, 30])
def test_read_only_run_directory_keeps_state_and_says_what_failed(tmp_path, monkeypatch,
                                                                  capsys, after):
    out = tmp_path / "run"
    assert train(out, steps=10) == 0
    capsys.readouterr()
    before = tree_digest(out / "checkpoints")
    read_only(monkeypatch, out, after=after)
    code = train(out, "--resume", steps=30)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert code == 2, err
    assert "Read-only file system (the run directory is not writable)" in err
    assert "error: could not write" in err
    ckpts = out / "checkpoints"
    assert not [p for p in out.rglob(".*tmp-*")], "temporary files were left behind"
    state, used, warnings = load_latest(ckpts / "last.pt")
    assert not warnings and all_finite(state)
    if after == 0:
        assert tree_digest(ckpts) == before
    # and once writable again the run finishes
    assert train(out, "--resume", steps=30) == 0


def test_sample_and_eval_into_read_only_directory_exit_2(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert train(out, steps=5) == 0
    capsys.readouterr()
    before = tree_digest(out)
    read_only(monkeypatch, out)
    codes = [main(["eval", "--run", str(out)]), main(["sample", "--run", str(out)])]
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert codes == [2, 2], err
    assert err.count("error: Read-only file system (the run directory is not writable)") == 2
    assert "internal error" not in err and "Traceback" not in err
    assert tree_digest(out) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; see the simulated test")
def test_read_only_run_directory_chmod(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, steps=10) == 0
    before = tree_digest(out)
    for p in [out, *[d for d in out.rglob("*") if d.is_dir()]]:
        p.chmod(0o555)
    try:
        assert train(out, "--resume", steps=20) == 2
    finally:
        for p in [out, *[d for d in out.rglob("*") if d.is_dir()]]:
            p.chmod(0o755)
    assert "not writable" in capsys.readouterr().err
    assert tree_digest(out) == before


# ---------------------------------------------------------------------------------------------
# resume compatibility and damaged checkpoints (through the CLI)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def ten_steps(tmp_path, capsys) -> Path:
    out = tmp_path / "run"
    assert train(out) == 0
    capsys.readouterr()
    return out


def test_resume_with_changed_config_is_refused_with_diff_unless_force(ten_steps, capsys):
    out = ten_steps
    assert train(out, "--resume", "--set", "optim.g_lr=0.001", steps=12) == 2
    err = capsys.readouterr().err
    assert "error: refusing to resume: the config differs from the checkpoint's:" in err
    assert "  optim.g_lr: 0.0001 -> 0.001" in err
    assert "--force" in err
    assert train(out, "--resume", "--set", "optim.g_lr=0.001", "--force", steps=12) == 0
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 12


def test_resume_with_other_recipe_lists_every_change(ten_steps, capsys):
    assert train(ten_steps, "--resume", recipe="grid", steps=12) == 2
    err = capsys.readouterr().err
    assert "  data.name: 'ring' -> 'grid'" in err


def test_resume_with_other_code_version_is_refused(ten_steps, capsys, monkeypatch):
    monkeypatch.setattr(training_state, "__version__", "9.9.9")
    assert train(ten_steps, "--resume", steps=12) == 2
    assert "  stablegan version: 0.1.0 -> 9.9.9" in capsys.readouterr().err


def test_resume_without_recipe_applies_seed_and_steps(ten_steps, capsys):
    assert main(["train", "--out", str(ten_steps), "--resume", "--seed", "3"]) == 2
    assert "  seed: 0 -> 3" in capsys.readouterr().err
    # only cosmetic keys differ (progress bar): allowed
    assert main(["train", "--out", str(ten_steps), "--resume", "--steps", "11"]) == 0
    assert "resuming" in capsys.readouterr().err


def test_forced_resume_into_other_architecture_names_the_tensors(ten_steps, capsys):
    assert train(ten_steps, "--resume", "--force", "--set", "model.hidden=8", steps=12) == 2
    err = capsys.readouterr().err
    assert "error: checkpoint does not fit network G:" in err
    assert "checkpoint (16, 2) vs model (8, 2)" in err


@pytest.mark.parametrize("damage", ["truncate", "zero", "flip"])
def test_damaged_last_checkpoint_falls_back_to_previous(ten_steps, capsys, damage):
    ckpt = ten_steps / "checkpoints" / "last.pt"
    data = ckpt.read_bytes()
    if damage == "truncate":
        ckpt.write_bytes(data[: len(data) // 3])
        reason = "is truncated or not a stablegan checkpoint"
    elif damage == "zero":
        ckpt.write_bytes(b"")
        reason = "is truncated (0 bytes)"
    else:
        ckpt.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
        reason = "is corrupt (sha256 mismatch)"
    assert train(ten_steps, "--resume", steps=12) == 0
    err = capsys.readouterr().err
    assert reason in err
    assert f"falling back to the previous checkpoint {previous_path(ckpt)}" in err
    assert f"resuming {ten_steps} at step 5/12" in err  # .prev is step 5
    assert load_checkpoint(ckpt)["step"] == 12


def test_both_checkpoints_damaged_is_a_clear_error(ten_steps, capsys):
    ckpt = ten_steps / "checkpoints" / "last.pt"
    for p in (ckpt, previous_path(ckpt)):
        p.write_bytes(p.read_bytes()[:1000])
    assert train(ten_steps, "--resume", steps=12) == 2
    err = capsys.readouterr().err
    assert "error: no loadable checkpoint:" in err and "and the previous one:" in err


def test_damaged_config_yaml_falls_back_to_checkpoint_config(ten_steps, capsys):
    (ten_steps / "config.yaml").write_text("steps: [1, 2\n")
    assert main(["train", "--out", str(ten_steps), "--resume", "--steps", "12"]) == 0
    err = capsys.readouterr().err
    assert "is not valid YAML" in err and "using the config stored in the checkpoint" in err


# ---------------------------------------------------------------------------------------------
# security: no code runs from checkpoints or configs; no writes outside the run directory
# ---------------------------------------------------------------------------------------------

class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def evil_bytes(marker: Path) -> bytes:
    buf = io.BytesIO()
    torch.save({"format": "stablegan-checkpoint", "step": 1, "x": Payload(marker)}, buf)
    return buf.getvalue()


def test_payload_is_live_when_loaded_unsafely(tmp_path):
    """Control: the payload does run under a plain unpickler, so the tests below can fail."""
    marker = tmp_path / "control"
    torch.load(io.BytesIO(evil_bytes(marker)), weights_only=False)
    assert marker.read_text() == "code ran"


@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "sha256-trailer"])
def test_pickled_code_in_checkpoint_is_refused_without_running(tmp_path, capsys, wrapped):
    marker = tmp_path / "marker"
    payload = evil_bytes(marker)
    if wrapped:
        payload += TRAILER.pack(MAGIC, hashlib.sha256(payload).digest(), len(payload))
    path = tmp_path / "evil.pt"
    path.write_bytes(payload)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    if wrapped:
        assert "refused by the safe loader (weights_only=True)" in info.value.message
    else:
        assert "no valid trailer" in info.value.message
    assert not marker.exists()
    # through the CLI: resume and sample on a run whose both checkpoints carry the payload
    out = tmp_path / "run"
    assert train(out) == 0
    for p in (out / "checkpoints" / "last.pt", previous_path(out / "checkpoints" / "last.pt")):
        p.write_bytes(payload)
    capsys.readouterr()
    assert train(out, "--resume", steps=12) == 2
    assert main(["sample", "--run", str(out)]) == 2
    assert main(["eval", "--run", str(out), "--checkpoint", "last.pt.prev"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error: ") == 3
    assert not marker.exists()


def test_python_tags_in_yaml_are_refused(tmp_path, capsys):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"method: nsgan\ndescription: !!python/object/apply:os.system "
                    f"['touch {marker}']\n")
    assert main(["train", "--config", str(evil), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "is not valid YAML" in err and "Traceback" not in err
    # --set values are parsed with safe_load too: the tag is kept as a plain string or refused
    code = main(["train", "--recipe", "ring", "--steps", "2", *TINY, "--out",
                 str(tmp_path / "run2"), "--set",
                 f"description=!!python/object/apply:os.system ['touch {marker}']"])
    assert code in (0, 2)
    # and a tampered config.yaml in the run directory
    out = tmp_path / "run3"
    assert train(out) == 0
    (out / "config.yaml").write_text(evil.read_text())
    assert main(["train", "--out", str(out), "--resume", "--steps", "11"]) == 0
    assert not marker.exists()


def test_training_writes_only_inside_the_run_directory(tmp_path, monkeypatch):
    """Config values are never paths the run writes to: a run started in an empty working
    directory creates files under --out only, whatever data.path/description say."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    torch.save(torch.randn(256, 2, generator=torch.Generator().manual_seed(0)),
               tmp_path / "points.pt")  # data read from outside the working directory
    writes = []
    real_open = builtins.open

    def spy(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+") and not isinstance(file, int):
            writes.append(Path(os.fsdecode(file)).resolve())
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    out = cwd / "run"
    assert main(["train", "--recipe", "ring", "--steps", "10", *TINY, "--out", str(out),
                 "--set", "data.name=tensor", "--set", "data.path=../points.pt",
                 "--set", "description=../../escape",
                 "--set", "eval.every=5", "--set", "eval.best_metric=swd"]) == 0
    monkeypatch.undo()
    assert writes
    outside = [w for w in writes if not w.is_relative_to(out.resolve())]
    assert not outside, outside
    assert sorted(p.name for p in cwd.iterdir()) == ["run"]
    assert not (tmp_path / "escape").exists()
    shutil.rmtree(out)
