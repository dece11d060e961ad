"""The training runner: `model.fit` with checkpoints, resume, a NaN guard and logs.

    lstmsuite train music --config configs/music/bach.yaml --run-dir runs/music/bach

Run the same command again after an interruption (Ctrl-C, a crash, even `kill -9`)
and training continues from the last completed epoch: `keras.callbacks.
BackupAndRestore` restores the weights, the optimizer state and the epoch counter,
and our own checkpoint state (best value, best epoch) lives next to it on disk.

The run directory's layout is described in `lstmsuite.pipelines.contract`.

A NaN or infinite loss stops the run at the batch where it appears; the epoch is
not saved anywhere (neither checkpoint nor backup), so the last good checkpoint and
the resume point stay those of the previous epoch, and `TrainingDivergedError` says so.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from lstmsuite.pipelines import distribute
from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    fill_saved_run_defaults,
    from_dict,
    save_config,
    to_dict,
)
from lstmsuite.pipelines.contract import (
    RunDir,
    RunDirError,
    fault_point,
    read_json,
    write_json,
    write_text,
)
from lstmsuite.pipelines.data import count_batches


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf; the message says where and what was kept."""


# ----------------------------------------------------------------------------- compile


def make_optimizer(training, steps_per_epoch: int | None) -> keras.optimizers.Optimizer:
    lr: Any = training.learning_rate
    if training.lr_schedule == "cosine":
        total = max(1, training.epochs * (steps_per_epoch or 1))
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total, alpha=0.05)
    kwargs: dict[str, Any] = {"learning_rate": lr}
    if training.clipnorm:
        kwargs["clipnorm"] = training.clipnorm
    if training.ema_momentum:
        kwargs.update(use_ema=True, ema_momentum=training.ema_momentum)
    if training.optimizer == "adam":
        return keras.optimizers.Adam(**kwargs)
    if training.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=training.weight_decay, **kwargs)
    if training.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(**kwargs)
    return keras.optimizers.SGD(momentum=0.9, nesterov=True, **kwargs)


def compile_model(model, app, cfg: Config, steps_per_epoch: int | None) -> None:
    model.compile(
        optimizer=make_optimizer(cfg.training, steps_per_epoch),
        jit_compile=cfg.runtime.jit_compile,
        **app.compile_args(cfg),
    )


# --------------------------------------------------------------------------- callbacks


class NaNGuard(keras.callbacks.Callback):
    """Stops at the first batch whose loss is not finite, remembering where."""

    def __init__(self):
        super().__init__()
        self.tripped: tuple[int, int] | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.tripped = (self.epoch, batch)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        # A finite training loss with a NaN validation loss is divergence too.
        if self.tripped is None and any(
            isinstance(v, (int, float)) and not math.isfinite(v)
            for v in (logs or {}).values()
        ):
            self.tripped = (epoch, -1)
            self.model.stop_training = True

    def ok(self) -> bool:
        return self.tripped is None


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of an epoch once the next epoch would not end
    within the budget (judged by the mean epoch time so far), so that a run stays
    inside "trained in at most N minutes" instead of overrunning by one epoch."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = minutes * 60.0
        self.spent = False

    def on_train_begin(self, logs=None):
        self.started = time.time()
        self.epochs_done = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done += 1
        elapsed = time.time() - self.started
        if elapsed + elapsed / self.epochs_done > self.seconds:
            self.spent = True
            self.model.stop_training = True


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that never backs up a diverged epoch and that a kill at any
    moment leaves consistent.

    Keras writes the weights in place and then the epoch number, so a kill in
    between pairs one epoch's weights with the previous epoch's number. Here each
    epoch's weights go to a file of their own (`epoch-N.weights.h5`, written under a
    temporary name and renamed), and the metadata that names that file and the
    epoch is written last, atomically: until it lands, the previous pair stays the
    backup. The older weights file is deleted only after.
    """

    def __init__(self, backup_dir, guard: NaNGuard):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.guard = guard

    @staticmethod
    def saved_epoch(backup_dir) -> int:
        """The last epoch the backup in `backup_dir` holds (0: none)."""
        metadata = Path(backup_dir) / "training_metadata.json"
        return int(read_json(metadata, strict=True).get("epoch", 0))

    def on_epoch_end(self, epoch, logs=None):
        self.guard.on_epoch_end(epoch, logs)  # catch a NaN val_loss before saving
        if self.guard.ok():
            super().on_epoch_end(epoch, logs)

    def _save_model(self):
        folder = Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        previous = read_json(self._training_metadata_path).get("weights")
        name = f"epoch-{self._current_epoch}.weights.h5"
        tmp = folder / "saving.weights.h5"
        self.model.save_weights(str(tmp), overwrite=True)
        _fsync(tmp)
        os.replace(tmp, folder / name)
        fault_point("backup")
        metadata = {"epoch": self._current_epoch, "batch": 0, "weights": name}
        write_json(self._training_metadata_path, metadata)
        for old in (previous, Path(self._weights_path).name):
            if old and old != name:
                (folder / old).unlink(missing_ok=True)

    def _load_model(self):
        # The weights the metadata names; a backup written before epoch-named files
        # has Keras's single latest.weights.h5.
        metadata = read_json(self._training_metadata_path, strict=True)
        if metadata.get("weights"):
            self._weights_path = str(Path(self.backup_dir) / metadata["weights"])
        super()._load_model()


class HistoryWriter(keras.callbacks.Callback):
    """history.csv, one row per finished epoch, rewritten atomically each epoch.

    It runs before the backup marks the epoch done, and the runner trims the rows
    of epochs the backup does not hold when a run resumes, so after any kill the
    file has each backed-up epoch exactly once. Same columns as Keras's CSVLogger:
    `epoch` (from 0), then the logs in name order.
    """

    def __init__(self, path: Path, guard: NaNGuard, keep_epochs: int):
        super().__init__()
        self.path, self.guard = Path(path), guard
        self.rows = [
            r for r in read_history_rows(self.path) if r["epoch"] < keep_epochs
        ]
        if self.rows or self.path.exists():
            write_history_rows(self.path, self.rows)

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.ok():
            return
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        self.rows = [r for r in self.rows if r["epoch"] != epoch] + [row]
        write_history_rows(self.path, self.rows)
        fault_point("history")


def read_history_rows(path: Path) -> list[dict[str, Any]]:
    """history.csv as a list of rows ({"epoch": int, name: float...})."""
    if not Path(path).exists():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            with contextlib.suppress(KeyError, ValueError, TypeError):
                epoch = int(row.pop("epoch"))
                rows.append({"epoch": epoch, **{k: _float(v) for k, v in row.items()}})
    return rows


def write_history_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    import io

    names = sorted({k for row in rows for k in row if k != "epoch"})
    text = io.StringIO()
    writer = csv.DictWriter(text, ["epoch", *names], lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["epoch"]):
        writer.writerow(row)
    write_text(path, text.getvalue())


class AveragedWeights(keras.callbacks.SwapEMAWeights):
    """With `training.ema_momentum`: the averaged weights are in the model from the
    end of each epoch to the start of the next (and during validation), so every
    callback after this one (checkpoints, backup) saves the average, and the raw
    weights wait in the optimizer's average slots.

    A backup therefore holds the two swapped; a resumed run starts with them
    swapped and puts them back before its first epoch, so training goes on from
    the raw weights with the average intact (Keras's callback assumes a fresh
    start). At the end of the last epoch Keras copies the average into both, so a
    finished run that is given more epochs goes on from its average."""

    def __init__(self, resumed: bool):
        super().__init__(swap_on_epoch=True)
        self.resumed = resumed

    def on_train_begin(self, logs=None):
        # The backup was restored in this on_train_begin round; the swap back
        # happens at the first on_epoch_begin, after every restore.
        self._ema_weights_in_model = self.resumed


class Checkpointer(keras.callbacks.Callback):
    """last.keras every epoch, best.keras on improvement, early stopping.

    Unlike ModelCheckpoint/EarlyStopping, the best value and best epoch are kept in
    state.json, so a resumed run does not forget them and overwrite a better
    best.keras with its first epoch.
    """

    def __init__(self, run: RunDir, guard: NaNGuard, monitor: str, patience: int):
        super().__init__()
        self.run, self.guard = run, guard
        self.monitor, self.patience = monitor, patience
        # "last": the epoch number is the value (higher is better), so every
        # epoch improves. A substring test would also catch a metric named "*last*".
        higher = ("acc", "f1", "bleu", "precision", "recall")
        self.mode = (
            "max" if monitor == "last" or any(k in monitor for k in higher) else "min"
        )
        self.state: dict[str, Any] = {}
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self.state = self.run.read_state()

    def improved(self, value: float) -> bool:
        best = self.state.get("best")
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.ok():
            return
        logs = logs or {}
        self.run.checkpoints.mkdir(parents=True, exist_ok=True)
        _atomic_save(self.model, self.run.last)
        if self.monitor == "last":
            value = epoch + 1
        else:
            value = logs.get(self.monitor, logs.get(self.monitor.removeprefix("val_")))
        if value is None:
            # Otherwise no best.keras would ever be written and evaluate would
            # fail after the whole training; last.keras of this epoch is saved.
            known = sorted(k for k, v in logs.items() if _is_number(v))
            raise ConfigError(
                f"training.monitor: {self.monitor!r} is not a metric of this "
                f"model; expected one of {known} or 'last'"
            )
        if self.improved(float(value)):
            _atomic_save(self.model, self.run.best)
            self.state.update(best=float(value), best_epoch=epoch + 1)
        self.state.update(
            epoch=epoch + 1,
            monitor=self.monitor,
            last={k: float(v) for k, v in logs.items() if _is_number(v)},
        )
        write_json(self.run.state, self.state)
        best_epoch = self.state.get("best_epoch", epoch + 1)
        if self.patience and epoch + 1 - best_epoch >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True


# ------------------------------------------------------------------------------ runner


def train(app, cfg: Config, run_dir: str | os.PathLike) -> dict[str, Any]:
    """Trains `app`'s model for `cfg` into `run_dir`, resuming if it was interrupted.

    Returns the metrics summary (also written to metrics.json). Raises
    `TrainingDivergedError` on a NaN/inf loss and `ConfigError` when `run_dir` holds a
    run of a different model.
    """
    run = RunDir(run_dir)
    if not distribute.is_chief():  # the chief holds the run directory
        return _train(app, cfg, run)
    with run.lock():
        return _train(app, cfg, run)


def _train(app, cfg: Config, run: RunDir) -> dict[str, Any]:
    chief = distribute.is_chief()
    changes = check_resumable(run, cfg)
    strategy = distribute.setup(cfg.runtime)
    keras.utils.set_random_seed(cfg.seed)
    task_type, task_index = distribute.worker_id()
    backup_dir = run.backup / f"{task_type}-{task_index}"
    # The backup is what a resumed run restores, so it decides which epochs are
    # done; state.json and history.csv may be one epoch ahead after a kill.
    done = SafeBackupAndRestore.saved_epoch(backup_dir)
    state = run.read_state()
    finished = state.get("finished")
    extended = any(c.startswith(_EXTENDING) for c in changes)
    if (
        finished
        and not extended
        and (
            finished == "early_stopped" or state.get("epoch", 0) >= cfg.training.epochs
        )
    ):
        print(f"{run.root}: this run already finished ({finished}).")
        return read_json(run.metrics)
    if chief:
        save_config(cfg, run.config)
        if state:
            state.pop("finished", None)
            state["epoch"] = done
            write_json(run.state, state)

    data = app.load_data(cfg, run.root)
    train_ds, valid_ds = data.train, data.valid
    steps, val_steps = cfg.training.steps_per_epoch, cfg.training.validation_steps
    workers = distribute.num_workers()
    # Several workers must run the same number of steps or the all-reduce hangs: feed
    # them endless data and a fixed step count.
    if steps or workers > 1:
        steps = steps or math.ceil(count_batches(train_ds) / 1)
        train_ds = train_ds.repeat()
    if valid_ds is not None and (val_steps or workers > 1):
        val_steps = val_steps or count_batches(valid_ds)
        valid_ds = valid_ds.repeat()

    with strategy.scope():
        model = app.build_model(cfg, data)
        schedule_steps = steps
        if cfg.training.lr_schedule != "constant" and not schedule_steps:
            schedule_steps = count_batches(train_ds)
        compile_model(model, app, cfg, schedule_steps)

    if workers > 1:
        _prebuild_for_multi_worker(model, data.train, strategy)

    # Non-chief workers save to a scratch folder: every worker must take part in
    # saving (it can involve collective reads) but only the chief's files are kept.
    scratch = None if chief else Path(tempfile.mkdtemp(prefix="lstmsuite-worker-"))
    own = run if chief else RunDir(scratch)
    guard = NaNGuard()
    checkpointer = Checkpointer(
        own, guard, cfg.training.monitor, cfg.training.early_stopping_patience
    )
    # The order matters at each epoch's end: the history row and the checkpoints
    # are written before the backup marks the epoch done (see HistoryWriter).
    callbacks: list[keras.callbacks.Callback] = [
        # First: the average is in the model before anything below saves it.
        *([AveragedWeights(resumed=done > 0)] if cfg.training.ema_momentum else []),
        guard,
        HistoryWriter(own.history, guard, keep_epochs=done),
        checkpointer,
        SafeBackupAndRestore(str(backup_dir), guard),
        # After the backup restored the optimizer: a changed learning rate counts.
        SetLearningRate(cfg.training),
    ]
    if chief:
        if _have_tensorboard():
            callbacks.append(
                keras.callbacks.TensorBoard(str(run.logs), write_graph=False)
            )
    budget = None
    if cfg.training.max_minutes:
        budget = TimeBudget(cfg.training.max_minutes)
        callbacks.append(budget)
    callbacks += app.callbacks(cfg, run.root)
    monitor_needs_val = cfg.training.monitor.startswith("val_")
    if monitor_needs_val and valid_ds is None:
        raise ConfigError(
            f"training.monitor: {cfg.training.monitor} needs a validation split, and "
            "this data has none; use monitor: loss"
        )

    if done and chief:
        print(f"Resuming {run.root} after epoch {done}; training epoch {done + 1}.")
    for change in changes if chief else ():
        print(f"Changed on resume: {change}.")
    started = time.time()
    try:
        with quiet_end_of_data():
            model.fit(
                train_ds,
                validation_data=valid_ds,
                epochs=cfg.training.epochs,
                steps_per_epoch=steps,
                validation_steps=val_steps if valid_ds is not None else None,
                callbacks=callbacks,
                shuffle=False,  # the tf.data pipeline shuffles, with the seed
                verbose=cfg.runtime.verbose,
            )
        state = own.read_state()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.time() - started

    if not guard.ok():
        status = "diverged"
    elif checkpointer.stopped_early:
        status = "early_stopped"
    elif budget is not None and budget.spent:
        status = "time_budget"
    else:
        status = "completed"
    summary = {
        "status": status,
        "epochs_completed": state.get("epoch", 0),
        "monitor": cfg.training.monitor,
        "best": state.get("best"),
        "best_epoch": state.get("best_epoch"),
        "last": state.get("last", {}),
        "params": int(model.count_params()),
        "seconds_this_session": round(seconds, 2),
    }
    if chief:
        if status != "diverged":
            state["finished"] = status
            write_json(run.state, state)
        write_json(run.metrics, summary)
        plot_curves(run.history, run.curves)
    if status == "diverged":
        raise TrainingDivergedError(_diverged_message(run, guard.tripped, state, cfg))
    return summary


@contextlib.contextmanager
def quiet_end_of_data():
    """Hides Keras's "Your input ran out of data" warning during `fit`.

    Our pipelines filter, bucket and batch, so TensorFlow cannot know how many
    batches an epoch holds; Keras then learns it by reaching the end of the first
    epoch and warns as if `steps_per_epoch` were too large. With a fixed step count
    the runner repeats the data, so in this runner the warning is never a real
    shortage.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def _prebuild_for_multi_worker(model, train_ds, strategy) -> None:
    """Works around keras-team/keras#20585 (Keras 3 + MultiWorkerMirroredStrategy).

    Before its first step, Keras 3's `fit` averages a first batch across replicas
    (`strategy.reduce`) to build the model, loss and metrics symbolically; with
    several workers that reduce fails on the batch's (x, y, weights) tuple. We build
    the same state from one local batch, then skip that step.

    Then each step's logs (scalars) are averaged across workers with `axis=0`, which
    a scalar does not have; we average them with `axis=None` instead. Gradients are
    all-reduced by the optimizer as usual, untouched by either fix.
    """
    from lstmsuite.layers.keras_internals import tensorflow_trainer as tf_trainer

    batch = next(iter(train_ds.take(1)))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda *args, **kwargs: None

    original = tf_trainer.reduce_per_replica
    if getattr(original, "_lstmsuite_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and (
            tf_trainer._collective_all_reduce_multi_worker(strategy)
        ):
            return keras.tree.map_structure(
                lambda v: (
                    strategy.reduce("MEAN", v, axis=None)
                    if tf_trainer._is_per_replica_instance(v)
                    else v
                ),
                values,
            )
        return original(values, strategy, reduction)

    reduce_per_replica._lstmsuite_patched = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def _diverged_message(run: RunDir, where, state, cfg: Config) -> str:
    epoch, batch = where
    at = f"epoch {epoch + 1}" + (f", batch {batch + 1}" if batch >= 0 else "")
    done = state.get("epoch", 0)
    if done:
        kept = (
            f"The last good checkpoint (epoch {done}) is kept in {run.last}; "
            "running the same command again resumes from it."
        )
    else:
        kept = "No epoch had finished, so there is no checkpoint."
    advice = "Try a lower training.learning_rate or a training.clipnorm."
    if cfg.model.cell == "layernorm":
        # A lower learning rate does not help here: layer normalization of a
        # zero vector has a Jacobian of gamma / sqrt(epsilon), so a state and an
        # input that stay zero for many steps (blank pixels, zero padding)
        # multiply the gradient by ~1e3 a step (layers/layer_norm_lstm.py).
        advice = (
            "With the LayerNorm cell the usual cause is a run of all-zero inputs "
            "from a zero state (blank pixels, zero padding), whose gradient "
            "explodes whatever the learning rate: standardize or mask the "
            "inputs (for MNIST, data.standardize=true). " + advice
        )
    return f"Training stopped: the loss became NaN or infinite at {at}. {kept} {advice}"


def check_resumable(run: RunDir, cfg: Config) -> list[str]:
    """A run directory resumes with the same model and data. Settings that only
    steer the training from here on (RESUMABLE) may change, and the changes are
    returned as "key: old -> new" lines; any other difference is an error that
    lists them."""
    if not run.config.exists():
        return []
    try:
        raw = fill_saved_run_defaults(type(cfg), _yaml_load(run.config))
        old = from_dict(type(cfg), raw, origin=str(run.config))
    except Exception as e:  # noqa: BLE001 -- whatever keeps it from loading
        if not (run.state.exists() or run.backup.exists()):
            return []  # nothing trained yet: the new config replaces it
        raise RunDirError(
            f"{run.config} cannot be read as this app's config ({e}); restore it, "
            "or use a new --run-dir"
        ) from None
    old_d, new_d = _flatten(to_dict(old)), _flatten(to_dict(cfg))
    differences = [
        f"{key}: {old_d.get(key)!r} -> {new_d.get(key)!r}"
        for key in sorted(set(old_d) | set(new_d))
        if old_d.get(key) != new_d.get(key) and key.split(".")[0] not in _FREE
    ]
    refused = [d for d in differences if d.split(":")[0] not in RESUMABLE]
    if not (run.state.exists() or run.backup.exists()):
        return []
    if refused:
        raise ConfigError(
            f"{run.root} holds a run with a different model, data or training ("
            + "; ".join(refused)
            + "); use a new --run-dir, or delete this one to start over. Settings "
            "that may change on resume: " + ", ".join(sorted(RESUMABLE))
        )
    return differences


# What may change when a run resumes: how long it goes on and how it steps from
# here, never what the weights mean (model, data, optimizer kind, seed).
RESUMABLE = {
    "training.epochs",
    "training.max_minutes",
    "training.learning_rate",
    "training.early_stopping_patience",
    "training.steps_per_epoch",
    "training.validation_steps",
    "data.batch_size",
    "data.shuffle_buffer",
    "data.cache",
    "data.bucket_boundaries",
    "data.path",
    "runtime.verbose",
    "runtime.strategy",
    "runtime.device",
    "runtime.tpu",
    "runtime.jit_compile",
    "runtime.deterministic",
}
# Changes that can give a finished run more epochs.
_EXTENDING = (
    "training.epochs",
    "training.max_minutes",
    "training.early_stopping_patience",
)
# Sections read only after training (decoding, generation) or by the tuner.
_FREE = {"app", "tuning", "decode", "generate"}


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        is_section = isinstance(value, dict) and key not in ("options", "cell_options")
        if is_section and not prefix:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


class SetLearningRate(keras.callbacks.Callback):
    """Sets the optimizer's learning rate from the config after a resume restored
    the old one (a constant rate is a variable the backup holds; a schedule is
    rebuilt from the config anyway)."""

    def __init__(self, training):
        super().__init__()
        self.rate = training.learning_rate
        self.constant = training.lr_schedule == "constant"

    def on_train_begin(self, logs=None):
        if self.constant:
            self.model.optimizer.learning_rate.assign(self.rate)


# ------------------------------------------------------------------------------- plots


def read_history(path: Path) -> dict[str, list[float]]:
    """history.csv as columns; a resumed run may have logged an epoch twice (killed
    between the log and the backup), so the last row of each epoch wins."""
    if not path.exists():
        return {}
    rows: dict[int, dict[str, str]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            with contextlib.suppress(KeyError, ValueError):
                rows[int(row["epoch"])] = row
    epochs = sorted(rows)
    columns: dict[str, list[float]] = {"epoch": [e + 1 for e in epochs]}
    for key in rows[epochs[0]] if epochs else {}:
        if key != "epoch":
            columns[key] = [_float(rows[e].get(key)) for e in epochs]
    return columns


def plot_curves(history_csv: Path, out_png: Path) -> Path | None:
    """One panel per metric: training and validation against the epoch."""
    from lstmsuite.pipelines import plots

    history = read_history(Path(history_csv))
    names = [k for k in history if k not in ("epoch", "learning_rate")]
    names = [k for k in names if not k.startswith("val_")]
    if not names:
        return None
    fig = plots.figure(5 * len(names), 3.6)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.plot(history["epoch"], history[name], "o-", label="training")
        if f"val_{name}" in history:
            ax.plot(history["epoch"], history[f"val_{name}"], "o-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    return plots.save(fig, out_png)


# ----------------------------------------------------------------------------- helpers


def _have_tensorboard() -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        print("Note: the tensorboard package is not installed; no TensorBoard logs.")
        return False
    return True


def _atomic_save(model, path: Path) -> None:
    tmp = path.with_name(f".saving-{path.name}")
    model.save(tmp)
    _fsync(tmp)
    fault_point("checkpoint")
    os.replace(tmp, path)


def _yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def _float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
