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
import threading
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


DESCRIPTION = """\
Stable, measurable, reproducible GAN training: the classic stabilisation toolkit
and PPO-GAN (probability-ratio clipping and sample re-weighting)."""
START_HERE = """\
start here:
  stablegan demo                       ppo-gan and its baselines on the ring (minutes on a CPU)
  stablegan train --recipe ring --out runs/ring
  stablegan COMMAND --help             the options of one command
  README.md                            every command, recipe and config key"""


def _version() -> str:
    """``stablegan X (torch Y, Python Z)`` without importing torch (metadata only)."""
    from importlib import metadata

    from stablegan import __version__

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a hard dependency
        torch_version = "not installed"
    return f"stablegan {__version__} (torch {torch_version}, Python {sys.version.split()[0]})"


def _command_list(sub: argparse._SubParsersAction) -> str:
    """One line per command, from each ``add_parser(help=...)``, for the top-level --help."""
    actions = list(sub._choices_actions)
    width = max(len(a.dest) for a in actions) + 2
    return "commands:\n" + "\n".join(f"  {a.dest:{width}s}{a.help}" for a in actions)


def _add_reproduce_parser(sub: argparse._SubParsersAction) -> None:
    from stablegan.reproduce.tables import table_names

    p = sub.add_parser("reproduce", help="a table of the paper at its published settings, "
                       "beside the published numbers")
    p.add_argument("name", metavar="NAME", help=f"one of: {', '.join(table_names())}")
    p.add_argument("--smoke", action="store_true",
                   help="the same pipeline at a toy size (about a minute on a CPU)")
    p.add_argument("--dry-run", action="store_true",
                   help="probe the costs, print the plan and the expected wall time, stop")
    p.add_argument("--out", help="output directory (default runs/reproduce-NAME[-smoke]; rerun "
                   "the same command to resume)")
    p.add_argument("--jobs", type=int, help="runs at once (default: as many as fit in GPU "
                   "memory; on a CPU one per core)")
    p.add_argument("--methods", help="comma list of the table's rows (label or method), e.g. "
                   "relgan,wgan-gp; the pre-training row always runs")
    p.add_argument("--seeds", help="comma list of seeds (default: the table's; --smoke: 0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of every run, e.g. --set data.path=DIR")
    p.add_argument("--steps", type=int, help="adversarial iterations per method run "
                   "(default: the table's published budget)")
    p.add_argument("--pretrain-steps", type=int, help="pre-training steps per seed (default: "
                   "the table's)")
    p.add_argument("--probe-iters", type=int, help="timed steps per phase in the probe "
                   "(default 3; --smoke 2)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stablegan", description=DESCRIPTION,
                                     usage="%(prog)s [-h] [--version] [--debug] COMMAND ...",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", help=argparse.SUPPRESS)

    p = sub.add_parser("train", help="train a GAN from a recipe or config")
    _add_config_args(p)
    p.add_argument("--out", help="run directory (default runs/<recipe>-<method>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true",
                   help="resume even though the config differs from the checkpoint's")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads (the config key threads; default: OMP_NUM_THREADS, "
                   "else 1, measured fastest for the built-in networks)")

    p = sub.add_parser("sample", help="draw samples from a trained run")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--n", type=int, help="number of samples (default 64; a conditional run: "
                                          "K rows of K, one class per row)")
    p.add_argument("--class", dest="cls", type=int, metavar="K",
                   help="conditional runs: samples of class K only")
    p.add_argument("--out", help="output file (default RUN/samples/sample.png, .txt for text)")
    p.add_argument("--checkpoint", default="last.pt", help="last.pt or best.pt")

    p = sub.add_parser("eval", help="evaluate a trained run; prints one JSON object")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--n", type=int, help="number of generated samples")
    p.add_argument("--checkpoint", default="last.pt", help="last.pt or best.pt")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="eval.KEY=V",
                   help="change how the run is evaluated, e.g. --set eval.extractor=pixels")

    p = sub.add_parser("compare", help="run several methods x seeds and summarise them")
    p.add_argument("--recipe", default="ring", help="built-in recipe name")
    p.add_argument("--methods", required=True, help="comma list, e.g. wgan-gp,ppo-gan")
    p.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=int, help="iterations per run (same for every method)")
    budget.add_argument("--batches", type=int,
                        help="equal compute: minibatch updates of all networks per run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--jobs", type=int, help="parallel runs (default: number of cores)")
    p.add_argument("--evals", type=int, default=10, help="evaluations per run (for curves.png)")
    p.add_argument("--out", required=True, help="output directory (rerun to resume)")

    _add_reproduce_parser(sub)

    p = sub.add_parser("demo", help="ppo-gan, ppo-gan-reweight and WGAN-GP at equal compute "
                       "on the ring (`make demo`)")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo; "
                   "rerun to resume)")
    p.add_argument("--batches", type=int, default=6000,
                   help="minibatch updates of all networks per method (default 6000, the ring "
                   "benchmark's)")
    p.add_argument("--recipe", default="ring", help="a toy recipe (default ring)")

    p = sub.add_parser("diagnose", help="diagnostic plots from a run")
    p.add_argument("what", choices=["surrogate"],
                   help="surrogate: Fig. 1 (left) of Wu et al. 2020, objective vs interpolation")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--out", help="output directory (default RUN/diagnose)")

    p = sub.add_parser("report", help="self-contained HTML report of a run or a comparison")
    p.add_argument("--run", help="run directory")
    p.add_argument("--compare", help="output directory of 'stablegan compare'")

    p = sub.add_parser("classifier", help="train the domain classifier behind offline FID and "
                       "class coverage")
    csub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = csub.add_parser("train", help="train it on the labelled training split of a recipe's data")
    c.add_argument("--recipe", help="built-in recipe name whose data to use (e.g. digits, mnist)")
    c.add_argument("--config", help="a YAML config file (instead of --recipe)")
    c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a data key, e.g. --set data.path=/data/mnist")
    c.add_argument("--out", help="output .pt (default ~/.cache/stablegan/classifiers/<data>.pt, "
                   "where evaluation looks; $STABLEGAN_CACHE_DIR moves the cache)")
    c.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    c.add_argument("--seed", type=int, default=0, help="seed of the split and initialisation")

    p = sub.add_parser("transfer", help="rewrite each line of a text file in another style "
                       "(a trained style run)")
    p.add_argument("--run", required=True, help="run directory of a style run (yelp-style, "
                   "text-style)")
    p.add_argument("--input", required=True, help="a UTF-8 text file, one sentence per line")
    p.add_argument("--to", help="target label for every line (default: the other style of the "
                   "one the model's classifier reads in each line)")
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument("--checkpoint", default="last.pt", help="last.pt or best.pt")

    p = sub.add_parser("config", help="every config key: type, default, description (with "
                       "--recipe: the resolved values)",
                       description="Without --recipe, --config, --set, --steps or --seed: every "
                       "config key, grouped by section, with its type, default, owner and "
                       "description (or one KEY explained). With them: the config a train "
                       "command would use (defaults <- method preset <- recipe or file <- --set),"
                       " after checking it, annotated the same way. The output is YAML.")
    _add_config_args(p)
    p.add_argument("key", nargs="?", help="a config key or section, e.g. optim.g_lr or schedule")

    sub.add_parser("recipes", help="list built-in recipes")
    sub.add_parser("methods", help="list method presets (--set method=NAME)")
    parser.epilog = _command_list(sub) + "\n\n" + START_HERE
    return parser


def _default_out(cfg: Any, recipe: str | None, config_file: str | None) -> Path:
    base = recipe or (Path(config_file).stem if config_file else "ring")
    return Path("runs") / f"{base}-{cfg.method}-s{cfg.seed}"


def _resume_config(out: Path, args: argparse.Namespace) -> Any:
    """The config of the run in ``out``: its config.yaml, or the config stored in its checkpoint
    when config.yaml is missing or damaged; ``--steps``/``--seed`` apply on top."""
    from stablegan.config import read_yaml
    from stablegan.configure import from_dict
    from stablegan.errors import ConfigError
    from stablegan.training.checkpoint import load_latest

    saved = out / "config.yaml"
    try:
        data = read_yaml(saved)
    except ConfigError as err:
        try:
            state, _, _ = load_latest(out / "checkpoints" / "last.pt")
        except StableganError:
            raise StableganError(f"cannot resume: {err.message}",
                                 hint="pass the --out directory of an earlier run") from None
        print(f"warning: {err.message}; using the config stored in the checkpoint",
              file=sys.stderr)
        data = dict(state.get("config") or {})
    if args.steps is not None:
        data["steps"] = args.steps
    if args.seed is not None:
        data["seed"] = args.seed
    if args.threads is not None:
        data["threads"] = args.threads
    return from_dict(data)


def cmd_train(args: argparse.Namespace) -> int:
    from stablegan.recipes import load_config
    from stablegan.training.rundir import Interrupted

    out_hint: list[Path] = []

    def early_stop(signum: int, frame: Any) -> None:  # before/after Trainer.fit's own handler
        raise Interrupted(signum, out_hint[0] if out_hint else None, saved=False)

    previous = (signal.signal(signal.SIGTERM, early_stop)
                if threading.current_thread() is threading.main_thread() else None)
    try:
        explicit = bool(args.recipe or args.config or args.overrides)
        if args.resume and args.out and not explicit:
            cfg = _resume_config(Path(args.out), args)
        else:
            cfg = load_config(args.recipe, args.config, args.overrides, args.steps, args.seed)
        if args.quiet:
            cfg.log.progress = False
        if args.threads is not None:
            if args.threads < 1:
                raise StableganError(f"--threads must be >= 1, got {args.threads}",
                                     hint="omit it for OMP_NUM_THREADS or the default")
            cfg.threads = args.threads
        out = Path(args.out) if args.out else _default_out(cfg, args.recipe, args.config)
        ckpt = out / "checkpoints" / "last.pt"
        if args.resume:
            if not ckpt.is_file() and not (out / "checkpoints" / "last.pt.prev").is_file():
                raise StableganError(f"cannot resume: no checkpoint in {out / 'checkpoints'}",
                                     hint="start the run without --resume")
            out_hint.append(out)
        elif ckpt.is_file():
            raise StableganError(f"{out} already holds a run; refusing to overwrite it",
                                 hint="pass --resume to continue it, or choose another --out")
        from stablegan.training.trainer import Trainer  # torch: once the config is known good

        trainer = Trainer.from_config(cfg, out_dir=out)
        if args.resume:
            for warning in trainer.resume(force=args.force):
                print(f"warning: {warning}", file=sys.stderr)
            print(f"resuming {out} at step {trainer.step}/{cfg.steps}", file=sys.stderr)
        result = trainer.fit()
        if not out_hint:
            out_hint.append(out)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    from stablegan.training import distributed  # under torchrun: rank 0 alone reports

    main_rank = distributed.is_main()
    distributed.shutdown()  # every rank, before Python's exit (see distributed.setup)
    if not main_rank:
        return 0
    print(f"run directory: {out}")
    print(f"  samples: {out / 'samples'}   losses: {out / 'losses.png'}   "
          f"checkpoint: {ckpt}")
    from stablegan.reports.table import result_table

    print(f"  evaluation: {out / 'eval.json'} (every key)")
    print(result_table(result))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from stablegan.training.trainer import load_run

    if args.n is not None and args.n < 1:
        raise StableganError(f"--n must be >= 1, got {args.n}")
    trainer = load_run(args.run, args.checkpoint)
    z, n, what = class_latents(trainer, args.n, args.cls)
    out = (Path(args.out) if args.out else
           Path(args.run) / "samples" / f"sample{trainer.task.sample_suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    x = trainer.sample(n, z=z)
    trainer.task.render(x, out, title=f"{n} samples{what}, step {trainer.step}")
    for line in trainer.task.sample_lines(x) or []:
        print(line)
    print(out)
    return 0


def class_latents(trainer: Any, n: int | None, cls: int | None
                  ) -> tuple[Any, int, str]:
    """``(z or None, n, title part)`` for ``stablegan sample``: class ``cls`` only, a K x K
    class-by-row grid for a conditional run, else n prior draws (z None)."""
    import torch

    from stablegan.tasks.conditional import class_grid_size, display_labels

    task = trainer.task
    if cls is not None and not task.conditional:
        raise StableganError(f"--class {cls}: run {trainer.out_dir} is not class-conditional",
                             hint="--class needs a run of a conditional method (cgan-pd, acgan, "
                                  "cgan-ppo); leave --class out for this run")
    if not task.conditional:
        return None, n or 64, ""
    k = int(task.num_classes)
    if cls is not None:
        if not 0 <= cls < k:
            raise StableganError(f"--class {cls} is out of range: the run has {k} classes",
                                 hint=f"give a class id 0..{k - 1}")
        n = n or 64
        labels, what = torch.full((n,), cls, dtype=torch.long), f" of class {cls}"
    else:
        n = n or class_grid_size(k)
        labels, what = display_labels(k, n), (" (one class per row)" if n == k * k else "")
    z = task.class_prior_draw(n, trainer.method.latent_dim, labels)
    return z, n, what


def cmd_eval(args: argparse.Namespace) -> int:
    from stablegan.training.trainer import load_run

    trainer = load_run(args.run, args.checkpoint, eval_overrides=args.overrides)
    result = trainer.evaluate(args.n, final=True)
    result = {"step": trainer.step, **result}
    (Path(args.run) / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def cmd_classifier(args: argparse.Namespace) -> int:
    from stablegan.classifier import train_classifier
    from stablegan.data import build_data
    from stablegan.recipes import load_config
    from stablegan.tasks.extractors import check_classifier_data

    if not (args.recipe or args.config):
        raise StableganError("give --recipe NAME or --config FILE: the classifier is trained on "
                             "that config's data", hint="e.g. stablegan classifier train "
                             "--recipe digits")
    cfg = load_config(args.recipe, args.config, args.overrides)
    info = train_classifier(cfg, epochs=args.epochs, seed=args.seed, out=args.out,
                            data=build_data(cfg.data, cfg.seed), check=check_classifier_data,
                            log=lambda msg: print(msg, file=sys.stderr))
    print(json.dumps(info))
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from stablegan.style_transfer import transfer_file

    lines, notes = transfer_file(args.run, args.input, args.to, args.checkpoint)
    for note in notes:
        print(note, file=sys.stderr)
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from stablegan.recipes import DEFAULT_RECIPE, describe_recipes

    for name, desc in describe_recipes():
        mark = " (default)" if name == DEFAULT_RECIPE else ""
        print(f"{name:16s} {desc}{mark}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from stablegan.config import explain

    cfg = None
    if args.recipe or args.config or args.overrides or args.steps is not None \
            or args.seed is not None:
        from stablegan.recipes import load_config

        cfg = load_config(args.recipe, args.config, args.overrides, args.steps, args.seed)
    sys.stdout.write(explain(args.key, cfg))
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from stablegan.config import Config
    from stablegan.methods.presets import describe
    from stablegan.recipes import recipe_dict, recipe_names

    for name, desc in describe():
        print(f"{name:18s} {desc}")
    print("\nrecipe -> default method (change it with --set method=NAME)")
    for recipe in recipe_names():
        print(f"  {recipe:16s} {recipe_dict(recipe).get('method') or Config().method}")
    return 0


def _csv(text: str, what: str, cast: Any = str) -> list[Any]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [cast(t) for t in items]
    except ValueError:
        raise StableganError(f"--{what} must be a comma list of {cast.__name__}s, got '{text}'")\
            from None


def cmd_compare(args: argparse.Namespace) -> int:
    from stablegan.compare import run_compare

    methods, seeds = _csv(args.methods, "methods"), _csv(args.seeds, "seeds", int)
    summary = run_compare(args.recipe, methods, seeds, args.out, steps=args.steps,
                          batches=args.batches, overrides=args.overrides, jobs=args.jobs,
                          evals=args.evals)
    print((Path(args.out) / "summary.md").read_text())
    print(f"written: {args.out}/summary.json, summary.md, curves.png, loss_variance.png")
    _ = summary
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from stablegan.reproduce.tables import get_table

    get_table(args.name)  # a bad NAME answers before torch is imported
    if args.jobs is not None and args.jobs < 1:
        raise StableganError(f"--jobs must be >= 1, got {args.jobs}")
    from stablegan.reproduce.run import reproduce

    reproduce(args.name, args.out, smoke=args.smoke, dry_run=args.dry_run, jobs=args.jobs,
              methods=_csv(args.methods, "methods") if args.methods else None,
              seeds=_csv(args.seeds, "seeds", int) if args.seeds else None,
              overrides=args.overrides, probe_iters=args.probe_iters, steps=args.steps,
              pretrain_steps=args.pretrain_steps)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from stablegan.demo import METHODS, run_demo

    print(f"demo: {', '.join(METHODS)} on '{args.recipe}' at {args.batches} batches each "
          f"(output in {args.out}; rerun to resume)", file=sys.stderr)
    run_demo(args.out, args.recipe, args.batches)
    print((Path(args.out) / "summary.md").read_text())
    for m in METHODS:
        print(f"{m}: samples {args.out}/{m}/seed0/samples/  losses {args.out}/{m}/seed0/losses.png")
    print(f"curves: {args.out}/curves.png   loss variance: {args.out}/loss_variance.png")
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from stablegan.diagnose import surrogate_landscape

    result = surrogate_landscape(args.run, args.out)
    out = Path(args.out) if args.out else Path(args.run) / "diagnose"
    print(json.dumps({k: result[k] for k in ("step", "eps", "clip_mode", "update_norm")}))
    print(f"written: {out / 'surrogate.png'}, {out / 'surrogate.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from stablegan.reports import write_compare_report, write_report

    if bool(args.run) == bool(args.compare):
        raise StableganError("give exactly one of --run DIR or --compare DIR")
    path = write_report(args.run) if args.run else write_compare_report(args.compare)
    print(path)
    return 0


COMMANDS = {"classifier": cmd_classifier,
            "compare": cmd_compare, "demo": cmd_demo, "diagnose": cmd_diagnose,
            "report": cmd_report, "train": cmd_train, "sample": cmd_sample, "eval": cmd_eval,
            "recipes": cmd_recipes, "methods": cmd_methods, "transfer": cmd_transfer,
            "config": cmd_config, "reproduce": cmd_reproduce}


def _is_out_of_memory(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, MemoryError) or (
        isinstance(err, RuntimeError)
        and ("can't allocate memory" in text or "out of memory" in text))


def main(argv: list[str] | None = None) -> int:
    """Run one command. Each command imports what it uses when it runs (torch only for the
    ones that need it), so ``--help``, ``recipes``, ``methods``, ``config`` and config errors
    answer at once; a SIGINT at any point, start-up included, exits with 130."""
    try:
        parser = build_parser()
        words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]
        if words and words[0] not in COMMANDS:  # a typo gets the project's error, with a guess
            import difflib

            close = difflib.get_close_matches(words[0], list(COMMANDS), n=1)
            guess = f"did you mean '{close[0]}'? " if close else ""
            print(f"error: unknown command '{words[0]}'", file=sys.stderr)
            print(f"hint: {guess}'stablegan --help' lists the commands", file=sys.stderr)
            return EXIT_USER
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    if args.verb is None:  # bare `stablegan`: the commands, not argparse's "required" error
        parser.print_help(sys.stderr)
        return EXIT_USER
    try:
        return COMMANDS[args.verb](args)
    except StableganError as err:
        from stablegan.training.rundir import Interrupted

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
        print("\ninterrupted; the last complete checkpoint on disk (if any) is kept",
              file=sys.stderr)
        return 128 + signal.SIGINT
    except OSError as err:  # disk full, read-only or missing folder outside the trainer's care
        if args.debug:
            raise
        from stablegan.core.files import describe_os_error

        where = f" ({err.filename})" if err.filename else ""
        print(f"error: {describe_os_error(err)}{where}".splitlines()[0], file=sys.stderr)
        print("hint: check that the path exists, is writable and that the disk has space",
              file=sys.stderr)
        return EXIT_USER
    except Exception as err:  # noqa: BLE001 - last resort: no raw traceback without --debug
        if args.debug:
            raise
        if _is_out_of_memory(err):
            print(f"error: out of memory: {err}".splitlines()[0], file=sys.stderr)
            print("hint: lower data.batch_size, eval.n_samples or the model size "
                  "(model.hidden, model.channels)", file=sys.stderr)
            return EXIT_USER
        print(f"internal error: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        print("rerun with --debug for the traceback, and please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
