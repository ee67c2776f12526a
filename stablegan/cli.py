"""The ``stablegan`` command: verbs map to library functions; no training logic lives here.

Exit codes: 0 success; 2 a problem the user can fix (the message says which and how); 130/143
stopped by SIGINT/SIGTERM after saving a checkpoint; 1 an internal error (a bug: rerun with
``--debug`` for the traceback and report it).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from stablegan.errors import StableganError

EXIT_USER = 2


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="built-in recipe name (see 'stablegan recipes')")
    p.add_argument("--config", help="a YAML config file (instead of --recipe)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set method=wgan-gp --set optim.g_lr=1e-4")
    p.add_argument("--steps", type=int, help="training iterations")
    p.add_argument("--seed", type=int, help="random seed (fixes the whole run)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stablegan", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("train", help="train a GAN from a recipe or config")
    _add_config_args(p)
    p.add_argument("--out", help="run directory (default runs/<recipe>-<method>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true",
                   help="resume even though the config differs from the checkpoint's")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("sample", help="draw samples from a trained run")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", help="output PNG (default RUN/samples/sample.png)")
    p.add_argument("--checkpoint", default="last.pt", help="last.pt or best.pt")

    p = sub.add_parser("eval", help="evaluate a trained run; prints one JSON object")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--n", type=int, help="number of generated samples")
    p.add_argument("--checkpoint", default="last.pt", help="last.pt or best.pt")

    sub.add_parser("recipes", help="list built-in recipes")
    sub.add_parser("methods", help="list method presets (--set method=NAME)")
    return parser


def _default_out(cfg: Any, recipe: str | None, config_file: str | None) -> Path:
    base = recipe or (Path(config_file).stem if config_file else "ring")
    return Path("runs") / f"{base}-{cfg.method}-s{cfg.seed}"


def cmd_train(args: argparse.Namespace) -> int:
    from stablegan.config import from_dict, read_yaml
    from stablegan.recipes import load_config
    from stablegan.training.trainer import Trainer

    explicit = bool(args.recipe or args.config or args.overrides)
    if args.resume and args.out and not explicit:
        saved = Path(args.out) / "config.yaml"
        if not saved.is_file():
            raise StableganError(f"cannot resume: {saved} does not exist",
                                 hint="pass the --out directory of an earlier run")
        data = read_yaml(saved)
        if args.steps is not None:
            data["steps"] = args.steps
        cfg = from_dict(data)
    else:
        cfg = load_config(args.recipe, args.config, args.overrides, args.steps, args.seed)
    if args.quiet:
        cfg.log.progress = False
    out = Path(args.out) if args.out else _default_out(cfg, args.recipe, args.config)
    ckpt = out / "checkpoints" / "last.pt"
    if args.resume:
        if not ckpt.is_file() and not (out / "checkpoints" / "last.pt.prev").is_file():
            raise StableganError(f"cannot resume: no checkpoint in {out / 'checkpoints'}",
                                 hint="start the run without --resume")
    elif ckpt.is_file():
        raise StableganError(f"{out} already holds a run; refusing to overwrite it",
                             hint="pass --resume to continue it, or choose another --out")
    trainer = Trainer.from_config(cfg, out_dir=out)
    if args.resume:
        for warning in trainer.resume(force=args.force):
            print(f"warning: {warning}", file=sys.stderr)
        print(f"resuming {out} at step {trainer.step}/{cfg.steps}", file=sys.stderr)
    result = trainer.fit()
    print(f"run directory: {out}")
    print(f"  samples: {out / 'samples'}   losses: {out / 'losses.png'}   "
          f"checkpoint: {ckpt}")
    print("evaluation: " + json.dumps(result))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from stablegan.reports import save_samples
    from stablegan.training.trainer import load_run

    if args.n < 1:
        raise StableganError(f"--n must be >= 1, got {args.n}")
    trainer = load_run(args.run, args.checkpoint)
    out = Path(args.out) if args.out else Path(args.run) / "samples" / "sample.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    x = trainer.sample(args.n)
    data = trainer.data
    real = data.reals(1000) if data.kind == "points" else None
    save_samples(x, out, kind=data.kind, modes=data.modes, real=real,
                 title=f"{args.n} samples, step {trainer.step}")
    print(out)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from stablegan.training.trainer import load_run

    trainer = load_run(args.run, args.checkpoint)
    result = trainer.evaluate(args.n)
    result = {"step": trainer.step, **result}
    (Path(args.run) / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from stablegan.recipes import DEFAULT_RECIPE, describe_recipes

    for name, desc in describe_recipes():
        mark = " (default)" if name == DEFAULT_RECIPE else ""
        print(f"{name:16s} {desc}{mark}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from stablegan.methods import describe

    for name, desc in describe():
        print(f"{name:18s} {desc}")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval,
            "recipes": cmd_recipes, "methods": cmd_methods}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.verb](args)
    except StableganError as err:
        from stablegan.training.trainer import Interrupted

        if args.debug:
            raise
        if isinstance(err, Interrupted):
            print(f"\n{err.message}", file=sys.stderr)
            if err.hint:
                print(err.hint, file=sys.stderr)
            return 128 + err.signum
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as err:  # noqa: BLE001 - last resort: no raw traceback without --debug
        if args.debug:
            raise
        print(f"internal error: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        print("rerun with --debug for the traceback, and please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
