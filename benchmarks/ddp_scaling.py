"""Throughput of 1 vs 2 data-parallel processes (torchrun, gloo on the CPU) at one global batch:
samples/s from the median ``time/sec`` of metrics.jsonl rows. Prints one JSON object.

    python benchmarks/ddp_scaling.py --recipe grid --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--recipe", default="grid")
    p.add_argument("--method", default="wgan-gp")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    res: dict[str, object] = {"cpus": os.cpu_count(), "recipe": a.recipe, "method": a.method,
                              "global_batch": a.batch}
    for n in (1, 2):
        out = Path(tempfile.mkdtemp()) / "run"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n),
               "-m", "stablegan", "train", "--recipe", a.recipe, "--steps", str(a.steps),
               "--out", str(out), "--quiet"]
        for kv in (f"method={a.method}", f"data.batch_size={a.batch}", "log.every=1",
                   "log.tensorboard=false", "eval.n_samples=64", "health.enabled=false"):
            cmd += ["--set", kv]
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        sec = statistics.median(r["time/sec"] for r in rows[2:])
        res[f"procs_{n}"] = {"sec_per_iteration": round(sec, 4),
                             "samples_per_s": round(a.batch / sec, 1)}
    res["speedup_2_over_1"] = round(res["procs_1"]["sec_per_iteration"]  # type: ignore[index]
                                    / res["procs_2"]["sec_per_iteration"], 3)  # type: ignore
    print(json.dumps(res))


if __name__ == "__main__":
    main()
