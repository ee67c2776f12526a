"""``stablegan reproduce``: the smoke pipeline (probe, plan, runs, table), resume after a partial
run, the plan's wall-time arithmetic by hand, the published numbers' sources, and the errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from stablegan.cli import main
from stablegan.errors import StableganError
from stablegan.reproduce.plan import Cost, build_runs, choose_jobs, estimate, makespan
from stablegan.reproduce.tables import TABLES, get_table

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


@pytest.mark.slow
def test_smoke_oracle20_two_methods_then_resume_skips_finished_runs(tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["reproduce", "oracle20", "--smoke", "--methods", "relgan,wgan-gp", "--out", str(out),
            "--probe-iters", "1"]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "expected wall time:" in first.out and "probe: relgan" in first.err
    result = json.loads((out / "table.json").read_text())
    assert [r["label"] for r in result["rows"]] == ["MLE", "RelGAN", "WGAN-GP"]
    table = TABLES["oracle20"]
    for row in result["rows"]:
        run_dir = out / ("pretrain" if row["spec"] is None else row["spec"]) / "seed0"
        ev = json.loads((run_dir / "eval.json").read_text())
        for k in table.metrics:  # one seed: the mean is that run's value, the std 0
            assert row["metrics"][k]["mean"] == pytest.approx(ev[k])
            assert row["metrics"][k]["std"] == 0.0
        pub = table.row(row["label"]).published.get("nll_oracle")
        assert row["metrics"]["nll_oracle"]["published"] == (pub.value if pub else None)
    # each method started from the pre-trained generator of its seed
    cfg = (out / "relgan" / "seed0" / "config.yaml").read_text()
    assert str((out / "pretrain" / "seed0").resolve()) in cfg
    md = (out / "table.md").read_text()
    assert "| RelGAN | relgan |" in md and "6.68" in md and md in first.out
    plan = json.loads((out / "plan.json").read_text())
    assert plan["jobs"] >= 1 and plan["wall"]["total"] > 0

    # a run interrupted after its third of four iterations: its checkpoint of step 3, no eval
    wgan = out / "wgan-gp" / "seed0"
    shutil.copy(wgan / "checkpoints" / "last.pt.prev", wgan / "checkpoints" / "last.pt")
    (wgan / "eval.json").unlink()
    assert main(args) == 0
    second = capsys.readouterr()
    status = json.loads((out / "table.json").read_text())["status"]
    assert status == {"pretrain/seed0": "skipped (finished)", "relgan/seed0": "skipped (finished)",
                      "wgan-gp/seed0": "ok (resumed)"}
    assert "probe:" not in second.err  # the costs came from probe.json
    assert "at step 3/4" in (wgan / "train.log").read_text()
    assert json.loads((wgan / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 4
    assert (wgan / "eval.json").is_file()


def test_plan_wall_time_is_the_hand_computation(tmp_path):
    relgan = Cost(startup=2.0, fixed=3.0, pretrain_step=0.5, step=2.0, peak_mib=100.0)
    wgan = Cost(startup=2.0, fixed=1.0, pretrain_step=0.5, step=3.0, peak_mib=120.0)
    runs = build_runs(get_table("oracle20"), ["MLE", "RelGAN", "WGAN-GP"], [0, 1, 2], tmp_path,
                      steps=10, pretrain_steps=20)
    assert [r.key for r in runs] == [
        "pretrain/seed0", "pretrain/seed1", "pretrain/seed2", "relgan/seed0", "relgan/seed1",
        "relgan/seed2", "wgan-gp/seed0", "wgan-gp/seed1", "wgan-gp/seed2"]
    wall = estimate(runs, {"relgan": relgan, "wgan-gp": wgan}, jobs=2)
    # pre-training: 2 + 3 + 20 * 0.5 = 15 s each (the first probed cost); 3 runs on 2 slots: 30
    # methods: relgan 2 + 3 + 10 * 2 = 25, wgan-gp 2 + 1 + 10 * 3 = 33; dealt in order to the
    # slot free first: [25, 25] -> r2 at 25 (50), w0 at 25 (58), w1 at 50 (83), w2 at 58 (91)
    assert [r.seconds for r in runs] == [15.0] * 3 + [25.0] * 3 + [33.0] * 3
    assert wall == {"pretrain": 30.0, "method": 91.0, "total": 121.0, "serial": 219.0}
    assert makespan([5.0, 1.0, 1.0, 1.0], 2) == 5.0 and makespan([1.0, 2.0], 1) == 3.0
    assert makespan([], 4) == 0.0
    # the method runs start from their seed's pre-training run
    assert f"pretrain.init_from={(tmp_path / 'pretrain' / 'seed1').resolve()}" in runs[4].overrides


def test_packing_fills_gpu_memory_and_one_run_per_cpu_core():
    assert choose_jobs("cuda", 16, 9, 1500.0, 10_000.0)[0] == 6  # 9,000 MiB // 1,500
    assert choose_jobs("cuda", 4, 9, 1500.0, 10_000.0)[0] == 4  # one core per run
    assert choose_jobs("cuda", 16, 3, 1500.0, 10_000.0)[0] == 3  # no more than the runs
    assert choose_jobs("cuda", 16, 9, 20_000.0, 10_000.0)[0] == 1  # even when none fits
    assert choose_jobs("cpu", 2, 9, 1500.0, None)[0] == 2
    assert choose_jobs("cpu", 2, 9, 1500.0, None, override=5) == (5, "--jobs 5")


def test_published_numbers_are_quoted_in_the_project_docs():
    text = DOCS.read_text(encoding="utf-8")
    numbers = set(re.findall(r"\d+\.\d+", text))
    quoted = [(t.name, r.label, k, p.value) for t in TABLES.values() for r in t.rows
              for k, p in r.published.items()]
    assert len(quoted) == 15
    for name, label, key, value in quoted:
        forms = {f"{value:g}", f"{value:.3f}", f"{value * 100:.2f}"}
        assert forms & numbers, f"{name} {label} {key}={value} is not in docs/benchmarks.md"


def test_bad_name_exits_2_listing_the_tables(capsys):
    assert main(["reproduce", "oracle2"]) == 2
    err = capsys.readouterr().err
    assert "unknown table 'oracle2'" in err and "did you mean 'oracle20'" in err
    for name in TABLES:
        assert name in err


def test_cifar10_without_the_files_exits_2_naming_data_path(tmp_path, capsys):
    where = tmp_path / "no-cifar"
    assert main(["reproduce", "cifar10", "--smoke", "--dry-run", "--out", str(tmp_path / "o"),
                 "--set", f"data.path={where}"]) == 2
    err = capsys.readouterr().err
    assert "data.path" in err and str(where) in err and "CIFAR-10" in err
    assert not (tmp_path / "o").exists()  # nothing probed or written


def test_unknown_method_row_exits_2_listing_the_rows(tmp_path, capsys):
    assert main(["reproduce", "coco", "--methods", "sngan", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sngan not in table coco" in err and "RelGAN(100) (relgan)" in err


def test_the_table_refuses_runs_scored_by_different_networks(tmp_path):
    """As compare's summary does: two runs of one table whose classifier-space numbers come
    from different cached networks (another sha256) are not put side by side."""
    from stablegan.reproduce.run import measured_table

    table = get_table("yelp")
    runs = build_runs(table, [table.rows[0].label], [0, 1], tmp_path, 3, 2)
    for i, r in enumerate(runs):
        (tmp_path / r.dir).mkdir(parents=True)
        prov = {"classifier": {"sha256": f"{i}" * 64, "path": "style-cnn.pt"}}
        (tmp_path / r.dir / "eval.json").write_text(json.dumps({"feature_extractors": prov}))
    with pytest.raises(StableganError, match="different 'classifier' networks"):
        measured_table(table, runs, tmp_path)
    for r in runs:  # the same network everywhere: the table is made
        prov = {"classifier": {"sha256": "a" * 64, "path": "style-cnn.pt"}}
        (tmp_path / r.dir / "eval.json").write_text(json.dumps({"feature_extractors": prov}))
    assert measured_table(table, runs, tmp_path)["table"] == "yelp"
