"""Training-health alarms: each fires on rows or runs made to trigger it, once, and not again after
a resume; ``health.fail_on`` stops the run after a checkpoint; a healthy run fires none."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from stablegan import Trainer
from stablegan.cli import main
from stablegan.config import HEALTH_ALARMS, HealthConfig
from stablegan.errors import ConfigError, HealthError
from stablegan.reports import write_report
from stablegan.training.health import ALARMS, HealthMonitor, format_alarm

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

BATCH = 16


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _healthy(step: int) -> dict:
    wiggle = 1.0 + 0.1 * ((step * 7) % 5 - 2) / 2  # 0.9 .. 1.1
    return {"step": step, "weights/ess": 0.8 * BATCH, "ratio/mean": wiggle, "ratio/std": 0.3,
            "classifier/accuracy": 0.7, "loss_var/d": 0.01 * wiggle,
            "grad/d_fake_norm": 1.0 * wiggle, "samples/spread_ratio": 0.8}


# (alarm, the bad values set from step 40 on)
BAD = [
    ("ess_collapse", {"weights/ess": 0.05 * BATCH}),
    ("ratio_mean", {"ratio/mean": 98.9}),
    ("ratio_mean", {"ratio/mean": 0.05}),
    ("ratio_std", {"ratio/std": 1348.0}),
    ("classifier_saturated", {"classifier/accuracy": 1.0}),
    ("loss_var_spike", {"loss_var/d": 0.5}),
    ("grad_spike", {"grad/d_fake_norm": 40.0}),
    ("diversity_collapse", {"samples/spread_ratio": 0.02}),
]


def _stream(monitor: HealthMonitor, steps: range, bad: dict | None = None) -> list[dict]:
    fired = []
    for step in steps:
        row = _healthy(step)
        if bad and step >= 40:
            row.update(bad)
        fired += monitor.check(row)
    return fired


def test_the_registry_matches_the_config_names():
    assert tuple(ALARMS) == HEALTH_ALARMS
    for alarm in ALARMS.values():
        assert hasattr(HealthConfig, alarm.threshold) and alarm.advice


def test_a_healthy_row_stream_fires_nothing():
    monitor = HealthMonitor(HealthConfig(burn_in=10, accuracy_rows=5), BATCH)
    assert _stream(monitor, range(1, 200)) == []


@pytest.mark.parametrize(("name", "bad"), BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_each_alarm_fires_once_on_rows_made_to_trigger_it(name, bad):
    monitor = HealthMonitor(HealthConfig(burn_in=10, accuracy_rows=5), BATCH)
    fired = _stream(monitor, range(1, 120), bad)
    assert [a["alarm"] for a in fired] == [name]
    a = fired[0]
    expected_step = 44 if name == "classifier_saturated" else 40  # K=5 consecutive rows
    assert a["step"] == expected_step
    assert a["reads"] == ALARMS[name].reads and a["advice"] == ALARMS[name].advice
    message = format_alarm(a)
    assert message.startswith(f"warning: health: {name} at step {expected_step}: ")
    assert "(threshold " in message


def test_spikes_wait_for_the_burn_in_and_saturation_needs_consecutive_rows():
    monitor = HealthMonitor(HealthConfig(burn_in=100, accuracy_rows=5), BATCH)
    assert _stream(monitor, range(1, 90), {"grad/d_fake_norm": 40.0}) == []  # before burn-in
    monitor = HealthMonitor(HealthConfig(accuracy_rows=5), BATCH)
    for step in range(1, 50):  # pinned 4 rows in 5: never 5 in a row
        row = _healthy(step)
        row["classifier/accuracy"] = 1.0 if step % 5 else 0.9
        assert monitor.check(row) == []


def test_the_monitor_state_round_trips_so_a_resume_neither_refires_nor_forgets():
    cfg = HealthConfig(burn_in=10, accuracy_rows=5)
    first = HealthMonitor(cfg, BATCH)
    assert [a["alarm"] for a in _stream(first, range(1, 60), {"ratio/mean": 98.9})] == \
        ["ratio_mean"]
    for step in range(60, 63):  # 3 pinned rows of 5 before the "checkpoint"
        first.check({**_healthy(step), "classifier/accuracy": 1.0})
    resumed = HealthMonitor(cfg, BATCH)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert resumed.fired == {"ratio_mean": 40}
    assert resumed.windows.keys() == first.windows.keys()
    pinned = {"classifier/accuracy": 1.0}
    assert resumed.check({**_healthy(63), **pinned, "ratio/mean": 98.9}) == []  # not again; 4/5
    fired = resumed.check({**_healthy(64), **pinned})  # 5 of 5: the count
    assert [a["alarm"] for a in fired] == ["classifier_saturated"]  # survived the resume


def test_disabled_monitor_fires_nothing():
    monitor = HealthMonitor(HealthConfig(enabled=False), BATCH)
    assert _stream(monitor, range(1, 60), {"ratio/mean": 98.9}) == []


def test_fail_on_names_are_validated_with_did_you_mean(make_cfg):
    with pytest.raises(ConfigError, match="health.fail_on") as err:
        make_cfg("health.fail_on=[ratio_maen]")
    assert "ratio_mean" in (err.value.hint or "")
    assert make_cfg("health.fail_on=all").health.fail_on == ["all"]
    with pytest.raises(ConfigError, match="health.diversity"):
        make_cfg("health.diversity=1.5")


# ----------------------------------------------------------------------------- real runs


class ConstantGenerator(nn.Module):
    """Every z maps to the same point: the samples have no diversity at all."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.point = nn.Parameter(torch.zeros(2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.point.expand(z.shape[0], 2) + 0.0 * z[:, :2]


class Critic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _collapsed(make_cfg, steps: int, *extra: str):
    cfg = make_cfg("health.every=5", "health.burn_in=0", *extra, steps=steps)
    return cfg, ConstantGenerator(), Critic()


@pytest.mark.slow
def test_a_constant_generator_raises_the_diversity_alarm_once(make_cfg, tmp_path, capsys):
    from stablegan.data import build_data

    cfg, G, D = _collapsed(make_cfg, 20)
    trainer = Trainer(G, D, build_data(cfg.data, cfg.seed), cfg, out_dir=tmp_path / "run")
    rng = torch.get_rng_state()
    trainer.fit()
    err = capsys.readouterr().err
    assert err.count("warning: health: diversity_collapse at step 5: "
                     "samples/spread_ratio 0 (threshold 0.1); ") == 1
    assert trainer.health.fired == {"diversity_collapse": 5}
    rows = _rows(tmp_path / "run" / "metrics.jsonl")
    flagged = [r["step"] for r in rows if "health/diversity_collapse" in r]
    assert flagged == [5]
    assert [r["step"] for r in rows if "samples/spread_ratio" in r] == [5, 10, 15, 20]
    assert not torch.equal(rng, torch.get_rng_state())  # training drew numbers; the look did not
    html = write_report(tmp_path / "run").read_text()
    assert "Training health" in html and "diversity_collapse" in html


@pytest.mark.slow
def test_the_health_check_does_not_change_the_trajectory(make_cfg):
    a = Trainer.from_config(make_cfg("health.every=1", steps=6))
    a.fit()
    b = Trainer.from_config(make_cfg("health.enabled=false", steps=6))
    b.fit()
    assert any("samples/spread_ratio" in r for r in a.history)
    for (k, p), q in zip(a.method.G.state_dict().items(), b.method.G.state_dict().values()):
        assert torch.equal(p, q), k


@pytest.mark.slow
def test_fail_on_stops_after_a_checkpoint_and_the_resume_does_not_refire(make_cfg, tmp_path,
                                                                          capsys):
    from stablegan.data import build_data

    cfg, G, D = _collapsed(make_cfg, 20, "health.fail_on=[diversity_collapse]")
    out = tmp_path / "run"
    trainer = Trainer(G, D, build_data(cfg.data, cfg.seed), cfg, out_dir=out)
    with pytest.raises(HealthError, match="diversity_collapse at step 5") as err:
        trainer.fit()
    assert "--resume" in (err.value.hint or "") and err.value.alarm["step"] == 5
    from stablegan.training.checkpoint import load_checkpoint

    state = load_checkpoint(out / "checkpoints" / "last.pt")
    assert state["step"] == 5 and state["health"]["fired"] == {"diversity_collapse": 5}
    capsys.readouterr()

    again = Trainer(ConstantGenerator(), Critic(), build_data(cfg.data, cfg.seed), cfg,
                    out_dir=out)
    again.resume()
    again.fit()  # the same fail_on: the alarm has fired already, so the run goes on
    assert again.step == 20
    assert "warning: health:" not in capsys.readouterr().err
    rows = _rows(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 21))
    assert [r["step"] for r in rows if "health/diversity_collapse" in r] == [5]


@pytest.mark.slow
def test_cli_fail_on_all_stops_with_the_error_and_resumes(tmp_path, capsys):
    out = tmp_path / "r"
    sets = ["data.batch_size=16", "model.hidden=16", "model.layers=1", "log.tensorboard=false",
            "eval.n_samples=64", "log.every=1", "health.every=2", "health.burn_in=0",
            "health.diversity=0.99", "health.fail_on=all"]
    args = ["train", "--quiet", "--steps", "6", "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error: health alarm diversity_collapse at step 2" in err
    assert "--resume" in err
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert "warning: health: diversity_collapse" not in capsys.readouterr().err
    rows = _rows(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_a_healthy_short_ring_run_fires_none(make_cfg, capsys):
    trainer = Trainer.from_config(make_cfg("model.hidden=64", "model.layers=2",
                                           "health.burn_in=50", steps=300))
    trainer.fit()
    assert trainer.health.fired == {}
    assert "warning: health:" not in capsys.readouterr().err
    assert any("samples/spread_ratio" in r for r in trainer.history)


# ------------------------------------------------------------- mode coverage (periodic evals)


def _evals(*modes: float, every: int = 100) -> list[dict]:
    return [{"step": every * (i + 1), "batches": 6 * every * (i + 1), "modes": float(m),
             "hq_fraction": 0.9} for i, m in enumerate(modes)]


def test_coverage_alarm_fires_when_the_count_falls_by_a_quarter_from_its_best():
    from stablegan.training.health import coverage_alarm

    assert coverage_alarm(_evals(2, 5, 8, 7, 7), 1000, 8) is None  # 7 > 0.75 x 8
    a = coverage_alarm(_evals(2, 5, 8, 7, 6, 8), 1000, 8)  # 6 <= 6: a quarter down
    assert a is not None
    assert (a["step"], a["alarm"], a["reads"], a["figure"], a["threshold"]) == \
        (500, "mode_coverage", "modes", 6.0, 6.0)
    assert a["why"] == "fell from its best of 8"
    assert "wgan-gp" in a["advice"]
    b = coverage_alarm(_evals(1, 3, 2), 1000, 8)  # the best so far is 3: 2 <= 2.25
    assert b is not None and (b["step"], b["threshold"]) == (300, 0.75 * 3)


def test_coverage_alarm_fires_under_half_the_modes_from_half_the_budget_on():
    from stablegan.training.health import coverage_alarm

    # the demo's ppo-gan shape: 0-3 of 8 throughout, never down a quarter from its best
    rows = _evals(0, 1, 3, 3, 3, 3, 3)
    assert coverage_alarm(rows[:4], 1000, 8) is None  # step 400 < half the budget
    a = coverage_alarm(rows, 1000, 8)
    assert a is not None and (a["step"], a["figure"], a["threshold"]) == (500, 3.0, 4.0)
    assert a["why"] == "3 of 8 modes after 500 of 1000 iterations"
    assert coverage_alarm(_evals(2, 3, 4, 4, 4, 4), 1000, 8) is None  # half is not under half
    assert coverage_alarm(_evals(0, 0, 0, 0, 0), 1000, 8)["step"] == 500  # best 0: floor only
    # the thresholds are parameters (health.coverage_drop / coverage_floor)
    assert coverage_alarm(_evals(8, 7), 1000, 8, drop=0.1)["step"] == 200
    assert coverage_alarm(rows, 1000, 8, floor=0.25) is None
    assert coverage_alarm([{"step": 900, "swd": 0.1}], 1000, 8) is None  # no modes: no alarm


def test_the_coverage_monitor_fires_once_flags_the_row_and_survives_a_resume(capsys):
    modes = torch.zeros(8, 2)
    rows = _evals(4, 8, 7, 6, 5, 4)
    mon = HealthMonitor(HealthConfig(), BATCH)
    fired = [a["step"] for r in rows[:3] for a in mon.check_eval(r, 1000, modes)]
    assert fired == [] and "health/mode_coverage" not in rows[2]
    resumed = HealthMonitor(HealthConfig(), BATCH)
    resumed.load_state_dict(json.loads(json.dumps(mon.state_dict())))  # as a checkpoint holds it
    for m in (mon, resumed):
        copies = [dict(r) for r in rows[3:]]
        assert [a["step"] for r in copies for a in m.check_eval(r, 1000, modes)] == [400]
        assert [("health/mode_coverage" in r) for r in copies] == [True, False, False]
        assert m.fired == {"mode_coverage": 400}
    err = capsys.readouterr().err
    assert err.count("warning: health: mode_coverage at step 400: modes 6 (threshold 6, fell "
                     "from its best of 8); the generator covers too few") == 2
    assert HealthMonitor(HealthConfig(), BATCH).check_eval(dict(rows[3]), 1000, None) == []
    off = HealthMonitor(HealthConfig(enabled=False), BATCH)
    assert [off.check_eval(dict(r), 1000, modes) for r in rows] == [[]] * len(rows)


def test_coverage_thresholds_are_validated(make_cfg):
    with pytest.raises(ConfigError, match="health.coverage_drop"):
        make_cfg("health.coverage_drop=1.5")
    with pytest.raises(ConfigError, match="health.coverage_floor"):
        make_cfg("health.coverage_floor=-0.1")


@pytest.mark.slow
def test_a_toy_run_gets_the_coverage_alarm_from_its_periodic_evaluations(make_cfg, tmp_path,
                                                                           capsys):
    # coverage_floor=1: fewer than all 8 modes from half the budget on (an untrained tiny net)
    cfg = make_cfg("eval.every=2", "health.coverage_floor=1.0", steps=4)
    trainer = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    trainer.fit()
    evals = _rows(tmp_path / "run" / "evals.jsonl")
    assert [r["step"] for r in evals] == [2]
    assert evals[0]["modes"] < 8 and evals[0]["health/mode_coverage"] == 1
    assert trainer.health.fired.get("mode_coverage") == 2
    assert "warning: health: mode_coverage at step 2: modes" in capsys.readouterr().err
