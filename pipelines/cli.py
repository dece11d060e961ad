"""The `lstmsuite` command line.

    lstmsuite apps
    lstmsuite train music --config music/tiny --run-dir runs/music/tiny
    lstmsuite evaluate music --run-dir runs/music/tiny
    lstmsuite generate music --run-dir runs/music/tiny --set generate.seed=3
    lstmsuite tune music --config music/tiny --set tuning.max_trials=4
    lstmsuite study music --config music/tiny --cells lstm,gru,mingru
    lstmsuite bench layers --quick
    lstmsuite demo music

Every app command takes `--config FILE` (a YAML file, or the name of a shipped
config such as `music/bach`), `--set KEY=VALUE` (repeatable) and `--run-dir DIR`.
`train` and `tune` write to `runs/<app>/<config name>` by default; `evaluate`,
`generate` and `predict` read the config saved in the run directory (a `--config` or
`--set` on top of it is allowed, e.g. to evaluate on another data file).

A bad config, a missing file or unusable data prints one line, `lstmsuite: error:
...`, and exits with status 2 (`--debug` shows the traceback instead). A run that
diverges (NaN loss) exits with status 3. TensorFlow's own log lines (its C++ INFO,
WARNING and ERROR lines, its Python warnings) stay out of the terminal unless
`--verbose` asks for them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lstmsuite.pipelines.config import ConfigError, load_config
from lstmsuite.pipelines.contract import UnreadableInputsError
from lstmsuite.pipelines.registry import (
    app_description,
    app_names,
    find_benchmark,
    get_app,
)

# What each app command does, as `lstmsuite --help` lists it.
APP_COMMANDS = {
    "train": "train a model (run it again to resume after an interruption)",
    "evaluate": "score a trained run on its test split",
    "generate": "generate from a trained run (music: a MIDI file)",
    "predict": "run a trained model on inputs (image files, sentences...)",
    "tune": "search hyperparameters with KerasTuner",
}


def build_parser() -> argparse.ArgumentParser:
    # --debug and --verbose are accepted before or after the command.
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    flags.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show TensorFlow's own log lines and warnings",
    )
    parser = argparse.ArgumentParser(
        prog="lstmsuite",
        description="Train, evaluate and use the LSTM applications; benchmark the "
        "layers.",
        parents=[flags],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("apps", help="list the installed applications", parents=[flags])

    for name, text in APP_COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text, parents=[flags])
        sub.add_argument("app", help="the application, e.g. music")
        _common(sub)
        if name == "generate":
            sub.add_argument("--output", help="output file (default: in the run dir)")
        if name == "predict":
            sub.add_argument("inputs", nargs="*", help="inputs (files or text)")
            sub.add_argument(
                "--attention-png",
                action="store_true",
                help="also write attention maps over each input (captioning)",
            )

    demo = commands.add_parser(
        "demo",
        help="train a small model, evaluate it and generate, in minutes",
        parents=[flags],
    )
    demo.add_argument("app", nargs="?", default="music")
    _common(demo)

    text = "train and evaluate one config once per recurrent cell, side by side"
    study = commands.add_parser("study", help=text, description=text, parents=[flags])
    study.add_argument("app", help="the application, e.g. music")
    study.add_argument(
        "--cells",
        default="lstm,gru",
        help="comma-separated cell names (model.cell), e.g. lstm,gru,mingru",
    )
    study.add_argument(
        "--metric", help="the score to plot in study.png (default: the first)"
    )
    study.add_argument(
        "--cell-set",
        dest="cell_overrides",
        action="append",
        default=[],
        metavar="CELL:KEY=VALUE",
        help="an override for one cell only, e.g. lstmp:model.cell_options."
        "proj_units=64 (repeatable)",
    )
    _common(study)

    bench = commands.add_parser(
        "bench", help="run a benchmark (layers, music)", parents=[flags]
    )
    bench.add_argument("name", help="e.g. layers, music")
    bench.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--config", help="experiment YAML file")
    sub.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.units=256 (repeatable)",
    )
    sub.add_argument("--run-dir", help="run directory (default: runs/APP/CONFIG)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `predict APP --run-dir DIR FILE...`: argparse fills the positional `inputs`
    # before the options and leaves the files after them unparsed; take those.
    if (
        extra
        and args.command == "predict"
        and not any(e.startswith("-") for e in extra)
    ):
        args.inputs = [*args.inputs, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.debug = getattr(args, "debug", False) or bool(
        os.environ.get("LSTMSUITE_DEBUG")
    )
    args.verbose = getattr(args, "verbose", False)
    if not args.verbose and args.command != "apps":  # apps needs no TensorFlow
        quiet_tensorflow()
    try:
        return run(args)
    except KeyboardInterrupt:
        print("lstmsuite: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 -- sorted below
        from lstmsuite.pipelines.training import TrainingDivergedError

        if args.debug or not isinstance(e, USER_ERRORS + (TrainingDivergedError,)):
            raise
        print(f"lstmsuite: error: {one_line(e)}", file=sys.stderr)
        return 3 if isinstance(e, TrainingDivergedError) else 2


def quiet_tensorflow() -> None:
    """Keeps TensorFlow's own log lines out of the terminal.

    Three kinds reach it: lines TensorFlow's C++ code writes while it is imported,
    before its logging is set up (oneDNN and CUDA notes, which no setting
    silences), so the import runs with the process's stderr pointed at /dev/null;
    later C++ lines (graph-optimizer warnings, cuInit errors on a machine without a
    GPU), which TF_CPP_MIN_LOG_LEVEL=3 drops (a level the user set is kept); and
    its Python logger's warnings (retracing notes).
    """
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


# Errors caused by what the user gave (config, paths, data) rather than by a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    ValueError,
    NotImplementedError,
)


def one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, (FileNotFoundError, PermissionError)) and e.filename:
        text = f"{e.strerror}: {e.filename}"
    return " ".join(text.split())


def run(args: argparse.Namespace) -> int:
    if args.command == "apps":
        for name in app_names():
            print(f"{name:14s} {app_description(name)}")
        return 0
    if args.command == "bench":
        result = find_benchmark(args.name)(list(args.args))
        return int(result or 0)
    if args.command == "demo":
        return demo(args)
    if args.command == "study":
        from lstmsuite.pipelines.study import parse_cells, study

        cells = parse_cells(args.cells)
        study_dir = args.run_dir or default_run_dir(args.app, args.config, "study")
        per_cell: dict[str, list[str]] = {}
        for item in args.cell_overrides:
            cell, sep, override = item.partition(":")
            if not sep or "=" not in override:
                raise ConfigError(
                    f"--cell-set {item!r}: expected CELL:KEY=VALUE, e.g. "
                    "lstmp:model.cell_options.proj_units=64"
                )
            per_cell.setdefault(cell.strip(), []).append(override)
        study(
            get_app(args.app),
            args.app,
            args.config,
            args.overrides,
            cells,
            study_dir,
            args.metric,
            per_cell,
        )
        print(f"study tables: {Path(study_dir) / 'study.md'}")
        return 0

    app = get_app(args.app)
    if args.command in ("train", "tune"):
        cfg = load_config(app.config_class, args.config, args.overrides, app=args.app)
        run_dir = args.run_dir or default_run_dir(args.app, args.config, args.command)
        if args.command == "train":
            summary = app.train(cfg, run_dir)
            print(json.dumps({"run_dir": str(run_dir), **summary}))
        else:
            result = app.tune(cfg, run_dir)
            print(json.dumps({"run_dir": str(run_dir), **result}))
        return 0

    run_dir = args.run_dir or default_run_dir(args.app, args.config, "train")
    cfg = run_config(app, args, run_dir)
    if args.command == "evaluate":
        scores = app.evaluate(cfg, run_dir)
        print_scores(scores, run_dir)
        return 0
    if args.command == "generate":
        if app.infer_command != "generate":
            raise ConfigError(f"{args.app} does not generate; use `lstmsuite predict`")
        for path in app.generate(cfg, run_dir, args.output):
            print(path)
        return 0
    if app.infer_command != "predict":
        raise ConfigError(f"{args.app} does not predict; use `lstmsuite generate`")
    inputs = args.inputs or [line.rstrip("\n") for line in sys.stdin]
    # Passed only when asked, so apps without attention keep their signature.
    extra = {"attention_png": True} if args.attention_png else {}
    try:
        lines = app.predict(cfg, run_dir, inputs, **extra)
    except UnreadableInputsError as e:
        # What could be read is printed (one line per input, in order), then the
        # error, and the exit status says that not everything was read.
        print("\n".join(e.outputs), flush=True)
        raise
    for line in lines:
        print(line)
    return 0


def run_config(app, args, run_dir):
    """The config of an existing run: --config if given, else the saved one."""
    from lstmsuite.pipelines.contract import load_run_config

    if args.config:
        return load_config(app.config_class, args.config, args.overrides, app=args.app)
    return load_run_config(app.config_class, run_dir, args.overrides)


def default_run_dir(app: str, config: str | None, command: str) -> Path:
    stem = Path(config).stem if config else "default"
    suffix = {"tune": "-tune", "study": "-study"}.get(command, "")
    return Path("runs") / app / f"{stem}{suffix}"


def print_scores(scores: dict, run_dir) -> None:
    """A readable table, then (last line) the same scores as one JSON object."""
    from lstmsuite.pipelines.contract import RunDir, write_json

    width = max(len(k) for k in scores) if scores else 0
    print(f"{'metric':<{width}}  value")
    for key, value in scores.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    write_json(RunDir(run_dir).evaluation, scores)
    print(json.dumps(scores, sort_keys=False))


def demo(args: argparse.Namespace) -> int:
    """train -> evaluate -> generate; by default with the app's shipped `tiny`."""
    from lstmsuite.pipelines.config import shipped_configs

    app = get_app(args.app)
    config = args.config
    if config is None and f"{args.app}/tiny" in shipped_configs():
        config = f"{args.app}/tiny"
    cfg = load_config(app.config_class, config, args.overrides, app=args.app)
    run_dir = args.run_dir or Path("runs") / args.app / "demo"
    app.train(cfg, run_dir)
    print_scores(app.evaluate(cfg, run_dir), run_dir)
    if app.infer_command == "generate":
        for path in app.generate(cfg, run_dir, None):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
