"""Data-parallel training (stablegan.training.distributed): 2 gloo processes on the CPU.

Each test forks 2 workers that join a gloo process group through the torchrun environment
variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), as ``torchrun`` would start
them. Equivalence with one process uses the same global batch: the data sampler already gives
every rank its slice of the same global batch; z and the penalty's interpolation weights are
drawn here as global draws sliced by rank (per-rank RNG streams would otherwise differ from one
process's, by design).

Tolerances: see test_ddp_equals_one_process_on_the_same_global_batch (float32 reduction order
is the only difference, except for BatchNorm statistics, which are per rank without
SyncBatchNorm).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import assert_states_identical, make_config, rows

from stablegan import lipschitz
from stablegan.training import distributed
from stablegan.training.checkpoint import load_checkpoint
from stablegan.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, fn: str, args: tuple, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        torch.save(globals()[fn](*args), f"{out}.{rank}")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_ddp(tmp: Path, fn: str, *args: Any, world: int = 2) -> list[Any]:
    """``fn(*args)`` in ``world`` forked processes of one gloo group; their return values."""
    ctx = mp.get_context("fork")
    out, port = str(tmp / f"result-{fn}"), _free_port()
    procs = [ctx.Process(target=_worker, args=(r, world, port, fn, args, out))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [torch.load(f"{out}.{r}", weights_only=False) for r in range(world)]


def _flat(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).float() for t in net.state_dict().values()])


def _weights(t: Trainer) -> dict[str, torch.Tensor]:
    out = {k: _flat(n) for k, n in t.method.networks.items()}
    if t.ema is not None:
        out["EMA"] = _flat(t.ema.shadow)
    return out


# ------------------------------------------------------------------------------ workers
def train_run(overrides: list[str], steps: int, out: str | None, resume: bool = False
              ) -> dict[str, Any]:
    cfg = make_config(*overrides, steps=steps)
    t = Trainer.from_config(cfg, out_dir=out)
    if resume:
        t.resume()
    t.fit()
    return {"weights": _weights(t), "rows": t.history, "step": t.step,
            "rank": distributed.rank(), "world": distributed.world_size(),
            "batch": t.method.real_batch().shape[0]}


def controlled_run(overrides: list[str], iterations: int) -> dict[str, Any]:
    """``iterations`` method iterations with z and u drawn as global batches sliced by rank."""
    cfg = make_config(*overrides, steps=iterations)
    t = Trainer.from_config(cfg)
    r, w = distributed.rank(), distributed.world_size()
    gz, gu = torch.Generator().manual_seed(11), torch.Generator().manual_seed(12)
    latent = t.method.latent_dim

    def source(n: int) -> torch.Tensor:
        return torch.randn(n * w, latent, generator=gz)[r * n:(r + 1) * n]

    def uniform(n: int, dim: int, device: Any) -> torch.Tensor:
        return torch.rand((n * w,) + (1,) * (dim - 1), generator=gu)[r * n:(r + 1) * n]

    saved = lipschitz.interpolation_weights
    t.method.pair.source = source
    lipschitz.interpolation_weights = uniform
    try:
        stats = []
        for i in range(iterations):
            s = t.method.iteration(i, False)
            # as Trainer._train_step does: rank 0's BatchNorm buffers everywhere
            distributed.broadcast_modules(list(t.method.networks.values()), buffers_only=True)
            stats.append(distributed.mean_stats(s) if distributed.active()
                         else {k: float(v) for k, v in s.items()})
    finally:
        lipschitz.interpolation_weights = saved
    return {"stats": stats, "weights": _weights(t)}


# ------------------------------------------------------------------------------ tests
GP = ["method=wgan-gp", "schedule.n_critic=2"]
REWEIGHT = ["method=ppo-gan-reweight", "schedule.n_critic=2"]
PPO = ["method=ppo-gan", "schedule.n_critic=2", "schedule.n_gen=2"]


# max |weight gap| after 3 iterations allowed (observed: 4e-9, 9e-5, C 1.2e-2 / D 1.6e-4)
WEIGHT_TOL = {"wgan-gp": 1e-6, "global-weights": 3e-4, "ppo-gan": 3e-2}


@pytest.mark.parametrize("name,overrides", [("wgan-gp", GP), ("global-weights", REWEIGHT),
                                            ("ppo-gan", PPO)])
@pytest.mark.slow
def test_ddp_equals_one_process_on_the_same_global_batch(tmp_path: Path, name: str,
                                                         overrides: list[str]) -> None:
    """Step 1: the first critic step's loss, penalty and importance weights (ESS, max) equal one
    process's to 1e-5 relative (observed <= 1e-7): the penalty's double backward and the
    all-gathered softmax are exact. Statistics of later steps of the iteration (critic/*,
    loss/g: averaged over steps after an update) to 1e-3 (observed 2e-4 with re-weighting: Adam's
    first updates ~ lr * sign(g) amplify reduction-order noise in near-zero gradients). PPO-GAN's
    ratio classifier C has BatchNorm, whose training-mode statistics are per rank (SyncBatchNorm
    needs CUDA), so C is only close (WEIGHT_TOL)."""
    ddp = run_ddp(tmp_path, "controlled_run", overrides, 3)
    single = controlled_run(overrides, 3)
    first, ref = ddp[0]["stats"][0], single["stats"][0]
    for k in ("loss/d", "lipschitz/gp", "weights/ess", "weights/max"):
        if k in ref:
            assert first[k] == pytest.approx(ref[k], rel=1e-5), k
    for k in ("critic/real", "critic/fake", "loss/g"):
        assert first[k] == pytest.approx(ref[k], rel=1e-3), k
    for k, w in single["weights"].items():
        assert torch.equal(ddp[0]["weights"][k], ddp[1]["weights"][k]), k  # ranks identical
        gap = (ddp[0]["weights"][k] - w).abs().max()
        assert gap <= WEIGHT_TOL[name], (k, float(gap))


@pytest.mark.slow
def test_per_rank_weights_differ_from_global(tmp_path: Path) -> None:
    glob = run_ddp(tmp_path, "controlled_run", PPO, 1)[0]["stats"][0]
    local = run_ddp(tmp_path, "controlled_run", PPO + ["dist.global_weights=false"], 1)
    assert local[0]["stats"][0]["weights/ess"] != pytest.approx(glob["weights/ess"], rel=1e-7)


@pytest.mark.slow
def test_ddp_ring_and_digits_stay_consistent_and_resume(tmp_path: Path) -> None:
    """G, D, C and the EMA are identical on both ranks after training (ring PPO-GAN, digits
    DCGAN with BatchNorm); each rank trains on half the global batch; rank 0 alone writes;
    a run stopped at step 2 and resumed under DDP ends where an uninterrupted one does."""
    ring = PPO + ["ema.decay=0.9", "log.checkpoint_every=1"]
    a = run_ddp(tmp_path, "train_run", ring, 4, str(tmp_path / "a"))
    for k in a[0]["weights"]:
        assert torch.equal(a[0]["weights"][k], a[1]["weights"][k]), k
    assert set(a[0]["weights"]) == {"G", "D", "C", "EMA"}
    assert a[0]["batch"] == 8 and a[0]["world"] == 2
    assert [r["step"] for r in a[0]["rows"]] == [1, 2, 3, 4]
    assert (tmp_path / "a" / "checkpoints" / "last.pt").is_file()
    state = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=False)
    assert len(state["rng_ranks"]) == 2
    assert not torch.equal(state["rng_ranks"][0]["torch"], state["rng_ranks"][1]["torch"])
    rows = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 4  # written once, by rank 0
    # stopped after step 2 (its last checkpoint), then resumed by 2 new processes
    run_ddp(tmp_path, "train_run", ring, 2, str(tmp_path / "b"))
    b = run_ddp(tmp_path, "train_run", ring, 4, str(tmp_path / "b"), True)
    assert b[0]["step"] == 4
    for k, w in a[0]["weights"].items():
        assert torch.equal(b[0]["weights"][k], w), k
    assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 4
    digits = ["data.name=digits", "model.name=dcgan", "model.channels=4", "model.latent_dim=8",
              "method=wgan-gp", "schedule.n_critic=1"]
    d = run_ddp(tmp_path, "train_run", digits, 2, None)
    for k in d[0]["weights"]:
        assert torch.equal(d[0]["weights"][k], d[1]["weights"][k]), k


def torchrun(target: list[str], out: Path, *args: str) -> list[str]:
    """``torchrun --nproc_per_node 2 <target> train`` on a tiny ring run writing to ``out``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), *target, "train", "--recipe", "ring",
           "--out", str(out), "--quiet", *args]
    for kv in ("data.batch_size=16", "model.hidden=16", "model.layers=1", "log.every=1",
               "log.tensorboard=false", "eval.n_samples=64"):
        cmd += ["--set", kv]
    return cmd


TORCHRUN_ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                    MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")


@pytest.mark.slow
def test_torchrun_cli(tmp_path: Path) -> None:
    """``torchrun --nproc_per_node 2 -m stablegan train`` trains and writes one run."""
    out = tmp_path / "run"
    proc = subprocess.run(torchrun(["-m", "stablegan"], out, "--steps", "3"), env=TORCHRUN_ENV,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[:3000] + "\n...\n" + proc.stderr[-3000:]
    assert proc.stdout.count("run directory:") == 1
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    assert (out / "checkpoints" / "last.pt").is_file()


# ``python -m stablegan`` with one addition: rank 0 stops after adversarial step HOLD_AT (past
# the checkpoint at step 4, so step 5 is lost) and waits there to be killed, announcing it in a
# file. Rank 1 goes on into step 6 and blocks in its first all-reduce. The kill thus always
# lands mid-run, after a checkpoint, whatever the machine's speed.
HOLD_SCRIPT = """
import sys, time
from pathlib import Path
from stablegan.cli import main
from stablegan.training import distributed
from stablegan.training.trainer import Trainer

step = Trainer._train_step

def held(self, phase):
    stop = step(self, phase)
    if phase.adversarial and self.step == {hold} and distributed.rank() == 0:
        Path({marker!r}).write_text("held")
        while True:
            time.sleep(1)
    return stop

Trainer._train_step = held
raise SystemExit(main(sys.argv[1:]))
"""
HOLD_AT = 5


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [c for c, p in parent.items() if p in frontier]
        found += kids
        frontier = kids
    return found


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_sigkill_of_a_torchrun_group_then_resume_equals_an_uninterrupted_run(
        tmp_path: Path) -> None:
    """SIGKILL of the whole torchrun process group (launcher and both ranks) in the middle of a
    run, after its checkpoint at step 4 and with step 5 logged but not saved; ``--resume`` under
    torchrun then ends bit-exactly where an uninterrupted run does: every network, optimiser,
    EMA, every rank's RNG state, the data sampler, the rolling variances, and the same
    metrics.jsonl rows (wall-clock time/sec aside) and final evaluation."""
    args = ("--steps", "8", "--set", "method=ppo-gan", "--set", "schedule.n_critic=2",
            "--set", "schedule.n_gen=2", "--set", "ema.decay=0.9",
            "--set", "log.checkpoint_every=2")
    ref = tmp_path / "reference"
    proc = subprocess.run(torchrun(["-m", "stablegan"], ref, *args), env=TORCHRUN_ENV,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    run, marker = tmp_path / "run", tmp_path / "held"
    script = tmp_path / "hold.py"
    script.write_text(HOLD_SCRIPT.format(hold=HOLD_AT, marker=str(marker)))
    proc = subprocess.Popen(torchrun([str(script)], run, *args), env=TORCHRUN_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, killed whole
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "rank 0 never reached the hold step"
            time.sleep(0.05)
    finally:  # the launcher and its workers (torchrun starts each in a session of its own)
        workers = descendants(proc.pid)
        for pid in [proc.pid, *workers]:
            os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and len(workers) >= 2  # the two ranks
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a killed worker is still running"
        time.sleep(0.05)
    killed = load_checkpoint(run / "checkpoints" / "last.pt")
    assert killed["step"] == 4  # the kill came after step 5, which was not saved
    assert len(rows(run / "metrics.jsonl")) == HOLD_AT  # ... but was logged
    assert not (run / "eval.json").exists()

    proc = subprocess.run(torchrun(["-m", "stablegan"], run, *args, "--resume"),
                          env=TORCHRUN_ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming" in proc.stderr and "at step 4/8" in proc.stderr
    final, expected = (load_checkpoint(d / "checkpoints" / "last.pt") for d in (run, ref))
    assert final["step"] == 8 and len(final["rng_ranks"]) == 2
    assert_states_identical(final, expected)
    assert rows(run / "metrics.jsonl") == rows(ref / "metrics.jsonl")
    assert [r["step"] for r in rows(run / "metrics.jsonl")] == list(range(1, 9))
    assert json.loads((run / "eval.json").read_text()) == json.loads(
        (ref / "eval.json").read_text())


def shutdown_run() -> dict[str, Any]:
    distributed.setup()
    before = (dist.is_initialized(), distributed.world_size())
    distributed.shutdown()
    return {"before": before, "after": (dist.is_initialized(), distributed.world_size(),
                                        distributed.is_main())}


@pytest.mark.slow
def test_shutdown_destroys_the_group_on_every_rank(tmp_path: Path) -> None:
    """The CLI ends a torchrun run with shutdown(): a barrier, then no process group is left
    for Python's exit (a live gloo group there can SIGABRT a rank, seen once in CI)."""
    for r, res in enumerate(run_ddp(tmp_path, "shutdown_run")):
        assert res["before"] == (True, 2)
        assert res["after"] == (False, 1, True), r  # one process again: the identity helpers
    distributed.shutdown()  # one process, no group: a no-op


@pytest.mark.slow
def test_batch_must_split_over_ranks(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        run_ddp(tmp_path, "train_run", ["data.batch_size=15"], 1, None)
