"""The Trainer's parts (issue 20.1): each built with explicit arguments and used through its own
methods, and what a run announces (issue 19.3/19.4): the first line, the threads, the phases and
their estimates."""

from __future__ import annotations

import json
import re
import signal
import statistics
from pathlib import Path

import pytest
import torch

from stablegan.cli import main
from stablegan.config import Config
from stablegan.errors import StableganError
from stablegan.training.console import Console, format_estimate, format_plan
from stablegan.training.distributed import RankGroup
from stablegan.training.logging import LossVariances
from stablegan.training.phases import Phase
from stablegan.training.progress import Best, Progress
from stablegan.training.rundir import Interrupted, RunDirectory, Signals
from stablegan.training.threads import DEFAULT_THREADS, choose_threads
from stablegan.training.trainer import Trainer


def _phase(name: str, steps: int) -> Phase:
    return Phase(name, steps, lambda i, d: {}, ("G",))


@pytest.fixture
def keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------- Progress
def test_progress_counts_each_phase_and_finds_the_current_one():
    pre, adv = _phase("pretrain", 2), _phase("adversarial", 3)
    p = Progress()
    assert p.current([pre, adv]) is pre and p.current_name([pre, adv]) == "pretrain"
    p.count(pre)
    p.count(pre)
    assert p.phase_steps == {"pretrain": 2} and p.step == 0 and p.done(pre) == 2
    assert p.current([pre, adv]) is adv
    for _ in range(3):
        p.count(adv)
    assert p.step == 3 and p.current([pre, adv]) is None
    assert p.current_name([pre, adv]) == "adversarial"  # the last phase once all are done


def test_progress_lr_factor_is_the_linear_decay_times_the_rollback_scale():
    p = Progress(step=3, lr_scale=0.5)
    adv, warm = _phase("adversarial", 10), _phase("warmup", 4)
    assert p.lr_factor("linear", 12, adv) == pytest.approx((1 - 3 / 12) * 0.5)
    assert p.lr_factor("linear", 12, warm) == 0.5  # the decay runs over adversarial steps only
    assert p.lr_factor("none", 12, adv) == 0.5
    assert Progress(step=20).lr_factor("linear", 12) == 0.0  # never negative


def test_progress_state_round_trips_and_reads_version_1_checkpoints():
    p = Progress(step=7, phase_steps={"warmup": 3}, lr_scale=0.25, rollbacks=2,
                 best=Best(0.5, 6, 1))
    q = Progress()
    q.load_state_dict(json.loads(json.dumps(p.state_dict())), warmup_steps=0)
    assert q == p
    old = {"step": 4, "lr_scale": 1.0, "rollbacks": 0}  # version 1: no phase_steps, no best
    q.load_state_dict(old, warmup_steps=5)
    assert q.phase_steps == {"warmup": 5} and q.best == Best(0.5, 6, 1)


# ----------------------------------------------------------------------------- LossVariances
def test_loss_variances_see_every_iteration_not_only_the_logged_rows():
    losses = [0.5, 1.5, -0.25, 2.0, 0.75]
    var = LossVariances(window=50, mean_over_ranks=lambda s: s)
    for x in losses:
        var.queue({"loss/d": torch.tensor(x), "other": 1.0})
    row = {"loss/d": losses[-1]}
    var.add_to_row(row, ["loss/d"])
    assert row["loss_var/d"] == pytest.approx(statistics.variance(losses))
    assert var.pending == []


def test_loss_variances_window_and_checkpointed_queue_give_the_same_next_row():
    a = LossVariances(window=3, mean_over_ranks=lambda s: s)
    for x in (1.0, 2.0, 4.0, 8.0):
        a.queue({"loss/g": torch.tensor(x)})
    pending = a.pending_state(gather=False)
    assert pending == [{"g": 1.0}, {"g": 2.0}, {"g": 4.0}, {"g": 8.0}]
    b = LossVariances(window=3, mean_over_ranks=lambda s: s)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())), pending)
    ra, rb = {"loss/g": 8.0}, {"loss/g": 8.0}
    a.add_to_row(ra, ["loss/g"])
    b.add_to_row(rb, ["loss/g"])
    assert ra == rb and ra["loss_var/g"] == pytest.approx(statistics.variance([2.0, 4.0, 8.0]))


def test_loss_variances_average_over_ranks_through_the_function_they_are_given():
    seen = []
    var = LossVariances(window=10, mean_over_ranks=lambda s: seen.append(dict(s)) or
                        {k: 2 * float(v) for k, v in s.items()})
    var.queue({"loss/d": 1.0})
    var.queue({"loss/d": 3.0})
    row = {"loss/d": 3.0}
    var.add_to_row(row, ["loss/d"])
    assert seen == [{"d": 1.0}]  # the row's own iteration is the row's (already averaged)
    assert row["loss_var/d"] == pytest.approx(statistics.variance([2.0, 3.0]))


# ----------------------------------------------------------------------------- RankGroup
def test_one_process_rank_group_is_the_identity():
    ranks = RankGroup(active=False)
    assert ranks.is_main
    stats = {"loss/d": torch.tensor(1.0)}
    assert ranks.mean(stats) is stats and ranks.share({"a": 1}) == {"a": 1}
    alarm = {"alarm": "x"}
    assert ranks.agree(False, signal.SIGINT, alarm) == (None, None)  # not a step to look at
    assert ranks.agree(True, signal.SIGINT, alarm) == (signal.SIGINT, alarm)
    assert ranks.agree(True, None, None) == (None, None)


# ----------------------------------------------------------------------------- Signals
def test_signals_keep_the_first_stop_at_the_second_and_restore_the_handlers(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    sig = Signals(tmp_path, position=lambda: 7)
    sig.install()
    try:
        signal.raise_signal(signal.SIGINT)
        assert sig.received == signal.SIGINT
        with pytest.raises(Interrupted, match="at step 7 before a new checkpoint") as info:
            signal.raise_signal(signal.SIGINT)
        assert info.value.saved is False
    finally:
        sig.restore()
    assert signal.getsignal(signal.SIGINT) is before
    sig.adopt(signal.SIGTERM)  # another rank's signal does not replace the own one
    assert sig.received == signal.SIGINT


# ----------------------------------------------------------------------------- RunDirectory
def test_run_directory_writes_nothing_without_a_directory_or_off_rank_0(tmp_path):
    assert not RunDirectory(None, is_main=True).writes
    off = RunDirectory(tmp_path / "r", is_main=False)
    off.open(Config(), (0, {}), tensorboard=False)
    assert not off.writes and not (tmp_path / "r").exists()


def test_run_directory_logs_and_truncates_to_a_position(tmp_path):
    run = RunDirectory(tmp_path / "r", is_main=True)
    run.open(Config(), (0, {}), tensorboard=False)
    assert (tmp_path / "r" / "config.yaml").is_file()
    for row in ({"phase": "warmup", "step": 1}, {"phase": "warmup", "step": 2}, {"step": 1},
                {"step": 2}, {"step": 3}):
        run.write_row(row, row["step"])
    run.append_eval({"step": 2, "modes": 3})
    run.truncate(1, {"warmup": 1})
    run.write_row({"step": 2, "again": True}, 2)
    run.close()
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert rows == [{"phase": "warmup", "step": 1}, {"step": 1}, {"step": 2, "again": True}]
    assert (tmp_path / "r" / "evals.jsonl").read_text() == ""  # step 2 is past the position


# ----------------------------------------------------------------------------- the Trainer
@pytest.mark.slow
def test_trainer_is_composed_not_mixed_and_creates_no_attribute_after_init(make_cfg, tmp_path):
    assert Trainer.__mro__ == (Trainer, object)
    t = Trainer.from_config(make_cfg("schedule.d_warmup=2", steps=3), out_dir=tmp_path / "r")
    before = set(vars(t))
    t.fit()
    assert set(vars(t)) == before
    for part in (t.checkpoints, t.guard, t.run_dir, t.signals, t.ranks, t.alarms,
                 t.variances, t.console, t.progress):
        assert type(part).__module__.startswith("stablegan.training.")
    assert t.step == t.progress.step == 3 and t.phase_steps == {"warmup": 2}
    assert t.checkpoints.progress is t.progress and t.guard.progress is t.progress


def _stop_at(t: Trainer, phase_name: str, index: int) -> None:
    """SIGINT from inside step ``index`` of phase ``phase_name`` (as a user's Ctrl-C)."""
    original = t.method.phases

    def phases(steps: int) -> list[Phase]:
        out = []
        for p in original(steps):
            if p.name == phase_name:
                inner = p.step

                def step(i: int, diag: bool, inner=inner) -> object:
                    stats = inner(i, diag)
                    if i == index:
                        signal.raise_signal(signal.SIGINT)
                    return stats
                p = Phase(p.name, p.steps, step, p.networks)
            out.append(p)
        return out

    t.method.phases = phases  # type: ignore[method-assign]


def _weights(t: Trainer) -> list[torch.Tensor]:
    return [v.clone() for n in t.method.networks.values() for v in n.state_dict().values()]


@pytest.mark.slow
@pytest.mark.parametrize("phase,index", [("warmup", 1), ("adversarial", 2)])
def test_resume_after_a_signal_in_any_phase_is_bit_identical(make_cfg, tmp_path, phase, index):
    cfg = ("schedule.d_warmup=3", "log.checkpoint_every=100")
    whole = Trainer.from_config(make_cfg(*cfg, steps=5), out_dir=tmp_path / "whole")
    whole.fit()
    part = Trainer.from_config(make_cfg(*cfg, steps=5), out_dir=tmp_path / "part")
    _stop_at(part, phase, index)
    with pytest.raises(Interrupted):
        part.fit()
    again = Trainer.from_config(make_cfg(*cfg, steps=5), out_dir=tmp_path / "part")
    again.resume()
    assert again.progress.done(next(p for p in again.method.phases(5) if p.name == phase)) \
        == index + 1
    again.fit()
    assert all(torch.equal(a, b) for a, b in zip(_weights(whole), _weights(again)))
    rows = [(tmp_path / d / "metrics.jsonl").read_text() for d in ("whole", "part")]
    strip = [re.sub(r'"time/sec": [^,}]+', "", r) for r in rows]
    assert strip[0] == strip[1]


# ----------------------------------------------------------------------------- first line, ETA
@pytest.mark.slow
def test_first_line_names_threads_and_every_phase_with_its_budget(make_cfg, capsys, tmp_path):
    t = Trainer.from_config(make_cfg("schedule.d_warmup=3", steps=4), out_dir=tmp_path / "r")
    t.fit()
    first = capsys.readouterr().err.splitlines()[0]
    n, source = t.threads
    assert first.startswith("train: ring with nsgan, seed 0, on cpu, ")
    assert f"{n} torch thread" in first and f"({source})" in first
    assert first.endswith("; warmup 3 steps, then adversarial 4 iterations")
    resumed = Trainer.from_config(make_cfg("schedule.d_warmup=3", steps=6),
                                  out_dir=tmp_path / "r")
    resumed.resume()
    assert resumed.first_line().endswith(
        "warmup 3 steps (done), then adversarial 6 iterations (4 done)")


def test_format_plan_and_the_estimate_of_an_early_phase():
    pre, adv = _phase("pretrain", 300), _phase("adversarial", 30)
    assert format_plan([pre, adv], [0, 0]) == "pretrain 300 steps, then adversarial 30 iterations"
    assert format_plan([pre, adv], [120, 0]).startswith("pretrain 300 steps (120 done), then")
    line = format_estimate(0.5, 280, 300, 20, pre, [adv])
    assert line == ("estimate: about 2 min 20 s for pretrain 300 steps (280 left) at 2 it/s "
                    "(measured over 20 steps; evaluations not counted), then adversarial 30 "
                    "iterations (estimated when they start)")
    assert format_estimate(2.0, 30, 30, 5, adv, []).startswith(
        "estimate: about 1 min for 30 iterations at 2 s/it")


def test_every_phase_gets_its_estimate(make_cfg, capsys, monkeypatch):
    import stablegan.training.console as console

    monkeypatch.setattr(console, "ESTIMATE_AFTER_STEPS", 2)
    cfg = make_cfg("schedule.d_warmup=6", "log.progress=true", steps=6)
    Trainer.from_config(cfg).fit()
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "estimate:" in ln]
    assert len(lines) == 2, lines
    assert "for warmup 6 steps (3 left)" in lines[0]
    assert lines[0].endswith("then adversarial 6 iterations (estimated when they start)")
    assert "for 6 iterations (3 left)" in lines[1]


def test_console_is_silent_off_rank_0(capsys):
    c = Console(progress=True, is_main=False)
    c.announce("train: ...")
    c.estimate(_phase("adversarial", 10), 1, [])
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- threads
def test_threads_precedence_key_then_environment_then_default():
    env = {"OMP_NUM_THREADS": "3"}
    assert choose_threads(2, env) == (2, "threads=2")
    assert choose_threads(0, env) == (3, "OMP_NUM_THREADS=3")
    n, source = choose_threads(0, {})
    assert n == DEFAULT_THREADS and source.startswith("the default")
    assert choose_threads(0, {"OMP_NUM_THREADS": "many"})[0] == DEFAULT_THREADS
    assert choose_threads(0, {"OMP_NUM_THREADS": "0"})[0] == DEFAULT_THREADS


def test_trainer_sets_the_threads_it_announces(make_cfg, monkeypatch, keep_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    t = Trainer.from_config(make_cfg("threads=2"))
    assert t.threads == (2, "threads=2") and torch.get_num_threads() == 2
    t = Trainer.from_config(make_cfg())
    assert t.threads == (1, "OMP_NUM_THREADS=1") and torch.get_num_threads() == 1


@pytest.mark.slow
def test_cli_threads_option_sets_the_key_and_refuses_zero(tmp_path, capsys, keep_threads,
                                                          monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    args = ["train", "--recipe", "ring-small", "--steps", "2", "--quiet"]
    for kv in ("model.hidden=16", "model.layers=1", "data.batch_size=16", "eval.n_samples=64",
               "log.tensorboard=false"):
        args += ["--set", kv]
    assert main([*args, "--threads", "2", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "2 torch threads (threads=2)" in err.splitlines()[0]
    assert "threads: 2" in (tmp_path / "r" / "config.yaml").read_text()
    assert main([*args, "--threads", "0", "--out", str(tmp_path / "s")]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err
    with pytest.raises(StableganError, match="config key 'threads' must be >= 0"):
        from stablegan.recipes import load_config

        load_config("ring-small", None, ["threads=-1"])


@pytest.mark.slow
def test_resume_ignores_a_new_thread_count(make_cfg, tmp_path, keep_threads):
    Trainer.from_config(make_cfg(steps=2), out_dir=tmp_path / "r").fit()
    t = Trainer.from_config(make_cfg("threads=2", steps=3), out_dir=tmp_path / "r")
    t.resume()  # a speed setting: no refusal
    assert t.step == 2


@pytest.mark.slow
def test_sample_and_eval_of_a_run_still_work(make_cfg, tmp_path: Path):
    from stablegan.training.trainer import load_run

    Trainer.from_config(make_cfg(steps=2), out_dir=tmp_path / "r").fit()
    t = load_run(tmp_path / "r")
    assert t.step == 2 and t.sample(4).shape == (4, 2)
