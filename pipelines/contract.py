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
    history.csv            one row per epoch (CSVLogger)
    curves.png             training and validation curves
    metrics.json           summary of the run (status, best, last, time)
    evaluation.json        the scores of the last `evaluate`

Every file an app writes there goes through `write_json` / `write_text`, which
write a temporary file and rename it, so a kill never leaves half a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmsuite.pipelines.config import Config, ConfigError, load_config


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
        """The trained model, for inference.

        safe_mode=True: a .keras file can carry Python lambdas; refuse to run them.
        compile=False: inference needs no optimizer, and no custom loss lookup.
        """
        import keras

        # Registers our layer classes, which the file names, for deserialization.
        import lstmsuite.layers  # noqa: F401

        return keras.models.load_model(
            path or self.model_path(), safe_mode=True, compile=False
        )

    def read_state(self) -> dict[str, Any]:
        return read_json(self.state)


def load_run_config(cls: type[Config], run_dir, overrides=()) -> Config:
    """The config saved in a run directory, with `--set` overrides applied."""
    path = RunDir(run_dir).config
    if not path.exists():
        raise ConfigError(
            f"{run_dir}: not a run directory (no config.yaml); train first or pass "
            "--config"
        )
    return load_config(cls, path, overrides)


# -------------------------------------------------------------------------- writers


def write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Writes `text` to `path` atomically: a temporary file beside it, flushed to
    disk, then renamed over the target (a kill leaves the old file or the new)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding=encoding) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def write_json(path, obj) -> Path:
    """`obj` as indented JSON, written atomically; NumPy scalars and arrays become
    numbers and lists."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path) -> dict[str, Any]:
    """The JSON object at `path`; {} when the file is missing or does not parse."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
