"""What an application implements and what it returns: the app contract.

An app is a package (`lstmsuite.apps.music`, or one of another distribution) whose
`App` subclass is named in the `lstmsuite.apps` entry-point group. It imports this
module, never the training runner: the runner, the tuner and the CLI call the hooks
below, and everything an app hands back or reads later is defined here.

    class MusicApp(App):
        config_class = MusicConfig
        def load_data(self, cfg, run_dir) -> Datasets: ...
        def build_model(self, cfg, data) -> keras.Model: ...
        def compile_args(self, cfg) -> dict: ...
        def evaluate(self, cfg, run_dir) -> dict[str, float]: ...

A run directory (`RunDir`) holds everything evaluate / generate / predict need:

    config.yaml            the resolved config (what `--set` changed included)
    checkpoints/best.keras the best epoch by `training.monitor`
    checkpoints/last.keras the last completed, finite epoch
    checkpoints/state.json epoch, best value, best epoch, finished reason
    backup/                BackupAndRestore's state, one folder per worker
    logs/                  TensorBoard (`tensorboard --logdir RUN/logs`)
    history.csv            one row per epoch
    curves.png             training and validation curves
    metrics.json           summary of the run (status, best, last, time)
    evaluation.json        the scores of the last `evaluate`
    .lock                  held by the training process (who holds it, since when)

Every file an app writes there goes through `write_json` / `write_text`, which
write a temporary file and rename it, so a kill never leaves half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmsuite.pipelines.config import Config, ConfigError, load_config


class RunDirError(ValueError):
    """A run directory that cannot be used as asked: in use by another process, not
    writable, a file, a damaged file inside it. The message says what to do."""


class UnreadableInputsError(ValueError):
    """`predict` read some of its inputs but not all: `outputs` holds one line per
    input (empty for the unreadable ones), which the CLI prints before this error,
    then exits non-zero."""

    def __init__(self, outputs: list[str], failed: list[tuple[str, str]]):
        self.outputs, self.failed = outputs, failed
        shown = "; ".join(f"{name}: {reason}" for name, reason in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        super().__init__(
            f"could not read {len(failed)} of {len(outputs)} inputs: {shown}{more}"
        )


class App:
    """What the CLI, the training runner and the tuner need from an application.

    The runner-facing hooks are `load_data`, `build_model` and `compile_args`; with
    them `train` and `tune` work unchanged. `evaluate` and `generate` / `predict`
    read only the run directory. The first line of the class docstring is what
    `lstmsuite apps` shows.
    """

    #: the app's `lstmsuite.pipelines.config.Config` subclass
    config_class: type = type(None)
    #: the verb of its inference command: "generate" (music, captioning...) or
    #: "predict" (recognizers and translators)
    infer_command: str = "generate"

    # ---- hooks for the training runner and the tuner
    def load_data(self, cfg: Any, run_dir: Any) -> Datasets:
        """Returns the `Datasets` (train, valid, test, info). May write what
        inference needs (a vocabulary, an alphabet) into `run_dir`."""
        raise NotImplementedError

    def build_model(self, cfg: Any, data: Datasets) -> Any:
        """A built, uncompiled `keras.Model` for this config and data."""
        raise NotImplementedError

    def compile_args(self, cfg: Any) -> dict[str, Any]:
        """`loss`, `metrics`, `weighted_metrics` for `model.compile` (the optimizer
        and `jit_compile` come from the config)."""
        raise NotImplementedError

    def callbacks(self, cfg: Any, run_dir: Any) -> list[Any]:
        """Extra Keras callbacks for training (e.g. sample outputs every epoch)."""
        return []

    # ---- commands
    def train(self, cfg: Any, run_dir: Any) -> dict[str, Any]:
        from lstmsuite.pipelines import training

        return training.train(self, cfg, run_dir)

    def tune(self, cfg: Any, run_dir: Any) -> dict[str, Any]:
        from lstmsuite.pipelines import tuning

        return tuning.tune(self, cfg, run_dir)

    def evaluate(self, cfg: Any, run_dir: Any) -> dict[str, float]:
        """Metrics of the trained model on the test split (a flat name -> number)."""
        raise NotImplementedError

    def generate(self, cfg: Any, run_dir: Any, output: str | None) -> list[str]:
        """Writes generated outputs; returns the paths written."""
        raise NotImplementedError(f"{type(self).__name__} does not generate")

    def predict(self, cfg: Any, run_dir: Any, inputs: list[str]) -> list[str]:
        """One prediction (a transcription, a translation) per input."""
        raise NotImplementedError(f"{type(self).__name__} does not predict")

    def study_report(self, configs: dict[str, Any], study_dir: Any) -> list[str]:
        """Figures across the cells of a `lstmsuite study` (each cell's run is
        `study_dir/<cell>`, trained with `configs[cell]`), written into
        `study_dir`; returns their paths. None by default: the study's table and
        bar chart are the same for every app."""
        return []


@dataclass
class Datasets:
    """What an app's `load_data` returns: batched tf.data pipelines plus whatever
    the model builder needs to know about the data (`info`: vocabulary size, ...)."""

    train: Any
    valid: Any = None
    test: Any = None
    info: dict[str, Any] = field(default_factory=dict)


class RunDir:
    """The paths of a run directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.config = self.root / "config.yaml"
        self.checkpoints = self.root / "checkpoints"
        self.best = self.checkpoints / "best.keras"
        self.last = self.checkpoints / "last.keras"
        self.state = self.checkpoints / "state.json"
        self.backup = self.root / "backup"
        self.logs = self.root / "logs"
        self.history = self.root / "history.csv"
        self.curves = self.root / "curves.png"
        self.metrics = self.root / "metrics.json"
        self.evaluation = self.root / "evaluation.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def model_path(self) -> Path:
        """best.keras, else last.keras; a clear error when the run has neither."""
        for path in (self.best, self.last):
            if path.exists():
                return path
        raise FileNotFoundError(
            f"{self.root}: no trained model (checkpoints/best.keras or last.keras); "
            "run `lstmsuite train` with this --run-dir first"
        )

    def load_model(self, path: str | os.PathLike | None = None) -> Any:
        """The trained model, for inference: best.keras, or last.keras (with a
        warning) when best.keras is missing or damaged.

        safe_mode=True: a .keras file can carry Python lambdas; refuse to run them.
        compile=False: inference needs no optimizer, and no custom loss lookup.
        """
        import keras

        # Registers our layer classes, which the file names, for deserialization.
        import lstmsuite.layers  # noqa: F401

        def load(file):
            return keras.models.load_model(file, safe_mode=True, compile=False)

        if path is not None:
            return load(path)
        first = self.model_path()
        try:
            return load(first)
        except Exception as e:  # noqa: BLE001 -- a damaged zip, h5 or JSON
            reason = " ".join(str(e).split())[:200] or type(e).__name__
            if first == self.best and self.last.exists():
                warnings.warn(
                    f"{self.best} cannot be read ({reason}); using {self.last}, "
                    "the last completed epoch, instead",
                    stacklevel=2,
                )
                return load(self.last)
            raise RunDirError(
                f"{first} cannot be read ({reason}); train again with this "
                "--run-dir (it resumes from the last backed-up epoch) or delete it"
            ) from e

    def read_state(self) -> dict[str, Any]:
        return read_json(self.state, strict=True)

    def check_usable(self) -> None:
        """Before a training starts: the run directory is a folder (or can be made
        one) and is writable; otherwise a RunDirError says so."""
        if self.root.exists() and not self.root.is_dir():
            raise RunDirError(f"--run-dir {self.root} is a file, not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise RunDirError(
                f"--run-dir {self.root} is not writable ({e.strerror}); choose "
                "another folder"
            ) from None

    @contextlib.contextmanager
    def lock(self):
        """Holds the run directory for one process (an exclusive `flock` on
        RUN/.lock, which the kernel releases when the process ends, even by kill
        -9: a lock left by a dead process never blocks a resume)."""
        import fcntl

        self.check_usable()
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                raise RunDirError(
                    f"{self.root} is in use by another process ({holder or 'unknown'}"
                    "); wait for it to end, or choose another --run-dir"
                ) from None
            os.ftruncate(fd, 0)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            os.pwrite(
                fd,
                f"pid {os.getpid()} on {socket.gethostname()}, since {stamp}".encode(),
                0,
            )
            yield self
        finally:
            os.close(fd)  # closing releases the lock


def load_run_config(cls: type[Config], run_dir, overrides=()) -> Config:
    """The config saved in a run directory, with `--set` overrides applied; a
    run of another app, or a config.yaml that does not parse, is an error that
    says so."""
    import yaml

    path = RunDir(run_dir).config
    if not path.exists():
        raise ConfigError(
            f"{run_dir}: not a run directory (no config.yaml); train first or pass "
            "--config"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise RunDirError(
            f"{path} cannot be read ({type(e).__name__}); restore it, or pass the "
            "run's --config"
        ) from None
    if not isinstance(raw, dict) or not raw:
        raise RunDirError(
            f"{path} is empty or not a mapping; restore it, or pass the run's --config"
        )
    expected = {f.name: f.default for f in dataclasses.fields(cls)}.get("app")
    if raw.get("app") and expected and raw["app"] != expected:
        raise RunDirError(
            f"{run_dir} is a {raw['app']} run, not a {expected} one; use "
            f"`lstmsuite COMMAND {raw['app']} --run-dir {run_dir}`"
        )
    return load_config(cls, path, overrides, saved_run=True)


# -------------------------------------------------------------------------- writers


@contextlib.contextmanager
def atomic_file(path):
    """For writers that take a path (matplotlib, MIDI, SentencePiece...): yields a
    temporary path beside `path` (same suffix, so writers that go by it still do);
    once the block ends without an error, the file is flushed to disk and renamed
    over `path`, so a kill leaves the old file or the new, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        fault_point(f"write:{path.name}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Writes `text` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    """Writes `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


_FAULTS: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Where the reliability sweep (`lstmsuite bench reliability`) kills a run:
    with LSTMSUITE_FAULT=NAME:K in the environment, the K-th time (from 1) the
    process reaches the point NAME it kills itself with SIGKILL, as a power cut
    would. Points: `write:<file name>` (before a written file replaces the old),
    `backup` (an epoch's backup weights written, its metadata not yet), `history`
    (an epoch's history row written, its backup not yet), `checkpoint` (a .keras
    checkpoint saved under its temporary name, not yet renamed). Unset: nothing."""
    wanted = os.environ.get("LSTMSUITE_FAULT")
    if not wanted:
        return
    point, _, count = wanted.rpartition(":")
    if point != name:
        return
    _FAULTS[name] = _FAULTS.get(name, 0) + 1
    if _FAULTS[name] == int(count or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def write_json(path, obj) -> Path:
    """`obj` as indented JSON, written atomically; NumPy scalars and arrays become
    numbers and lists."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path, strict: bool = False) -> dict[str, Any]:
    """The JSON object at `path`; {} when the file is missing. One that does not
    parse is {} too, or with `strict` (run-directory state that must not be
    silently forgotten) a RunDirError naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        if strict:
            raise RunDirError(
                f"{path} cannot be read ({type(e).__name__}); delete it to start "
                "this run's bookkeeping over, or use another --run-dir"
            ) from None
        return {}


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
