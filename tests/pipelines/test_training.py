"""The runner on the toy app: run directory, resume after kill -9, NaN guard."""

import json
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from lstmsuite.pipelines.config import ConfigError, load_config
from lstmsuite.pipelines.contract import RunDir
from lstmsuite.pipelines.registry import get_app
from lstmsuite.pipelines.training import TrainingDivergedError, read_history
from tests.pipelines.conftest import PYTHON, ROOT, subprocess_env


def toy(*overrides):
    app = get_app("toy")
    return app, load_config(app.config_class, None, ["runtime.verbose=0", *overrides])


def test_one_run_writes_the_run_directory(tmp_path):
    app, cfg = toy("training.epochs=2")
    summary = app.train(cfg, tmp_path)
    run = RunDir(tmp_path)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    for path in (run.config, run.best, run.last, run.state, run.history, run.curves):
        assert path.exists(), path
    assert json.loads(run.metrics.read_text())["best_epoch"] in (1, 2)
    assert read_history(run.history)["epoch"] == [1, 2]
    assert list(run.logs.iterdir())  # TensorBoard event folders
    model = run.load_model()  # safe_mode=True
    assert model.output_shape[-1] == cfg.data.features
    # A finished run is not trained again by the same command.
    assert app.train(cfg, tmp_path)["epochs_completed"] == 2


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    app, cfg = toy("training.epochs=4", "model.poison_epoch=1")
    with pytest.raises(TrainingDivergedError) as error:
        app.train(cfg, tmp_path)
    message = str(error.value)
    assert "NaN" in message and "epoch 2, batch 1" in message
    run = RunDir(tmp_path)
    assert "epoch 1" in message and str(run.last) in message
    assert run.read_state()["epoch"] == 1
    backup = json.loads((run.backup / "chief-0" / "training_metadata.json").read_text())
    assert backup["epoch"] == 1
    weights = run.load_model(run.last).get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    assert json.loads(run.metrics.read_text())["status"] == "diverged"


def test_time_budget_stops_before_an_epoch_that_would_overrun(tmp_path):
    app, cfg = toy("training.epochs=5", "training.max_minutes=0.0001")
    summary = app.train(cfg, tmp_path)
    assert summary["status"] == "time_budget"
    assert summary["epochs_completed"] == 1
    assert RunDir(tmp_path).best.exists()


def test_time_budget_stops_when_the_next_epoch_would_not_fit():
    from types import SimpleNamespace

    from lstmsuite.pipelines.training import TimeBudget

    budget = TimeBudget(minutes=10)
    budget.set_model(SimpleNamespace(stop_training=False))
    budget.on_train_begin()
    budget.started = time.time() - 4 * 60  # first epoch took 4 min: 8 < 10, go on
    budget.on_epoch_end(0)
    assert not budget.model.stop_training
    budget.started = time.time() - 8 * 60  # mean 4 min: 12 > 10, stop now
    budget.on_epoch_end(1)
    assert budget.model.stop_training and budget.spent


def test_resuming_with_another_model_is_refused(tmp_path):
    app, cfg = toy("training.epochs=1")
    app.train(cfg, tmp_path)
    _, other = toy("training.epochs=2", "model.units=7")
    with pytest.raises(ConfigError, match=r"model.units: 4 -> 7"):
        app.train(other, tmp_path)


def toy_argv(run_dir, *sets) -> list[str]:
    """The command line of `lstmsuite train toy` (the toy app is registered only
    in a process that imports it)."""
    command = [
        PYTHON,
        "-c",
        "import sys, tests.pipelines.toy_app; "
        "from lstmsuite.pipelines.cli import main; "
        "sys.exit(main(sys.argv[1:]))",
        "train",
        "toy",
        "--run-dir",
        str(run_dir),
        "--set",
        "runtime.verbose=0",
    ]
    for item in sets:
        command += ["--set", item]
    return command


def test_kill_9_then_the_same_command_resumes(tmp_path):
    command = toy_argv(tmp_path, "model.sleep=0.05")
    run = RunDir(tmp_path)
    first = subprocess.Popen(
        [*command, "--set", "training.epochs=100"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while run.read_state().get("epoch", 0) < 2:
            assert first.poll() is None, first.stdout.read().decode()[-2000:]
            assert time.time() < deadline, "no epoch finished in time"
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(timeout=30)
    done = run.read_state()["epoch"]
    second = subprocess.run(
        [*command, "--set", f"training.epochs={done + 2}"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "Resuming" in second.stdout
    epochs = read_history(run.history)["epoch"]
    assert epochs == list(range(1, done + 3))  # nothing repeated, nothing lost
    assert json.loads(run.metrics.read_text())["epochs_completed"] == done + 2


# ------------------------------------------------ runs that survive anything


def toy_command(run_dir, *sets, fault=None):
    """`lstmsuite train toy` in a child process (optionally killed at a fault)."""
    command = toy_argv(run_dir, *sets)
    env = subprocess_env(**({"LSTMSUITE_FAULT": fault} if fault else {}))
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def history_epochs(run: RunDir) -> list[int]:
    import csv

    with open(run.history, newline="") as f:
        return [int(row["epoch"]) + 1 for row in csv.DictReader(f)]


@pytest.mark.parametrize(
    "fault",
    # The moments between two writes of one epoch. The kills inside an atomic
    # write (`write:config.yaml:1`, `write:state.json:2`) and the other fault
    # points run in `lstmsuite bench reliability`, on every app: ~30 s each here.
    [
        "history:2",  # epoch 2's history row written, its backup not yet
        "backup:2",  # epoch 2's backup weights written, the epoch not yet marked
        "checkpoint:3",  # a checkpoint saved, not yet renamed into place
    ],
)
def test_a_kill_at_a_narrow_moment_resumes_with_history_and_state_agreeing(
    tmp_path, fault
):
    killed = toy_command(tmp_path, "training.epochs=3", fault=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    again = toy_command(tmp_path, "training.epochs=3")
    assert again.returncode == 0, again.stderr[-2000:]
    run = RunDir(tmp_path)
    found = re.search(r"after epoch (\d+); training epoch (\d+)", again.stdout)
    if found:  # the message says what happens next
        assert int(found[2]) == int(found[1]) + 1
    assert history_epochs(run) == [1, 2, 3]  # every epoch once
    assert run.read_state()["epoch"] == 3
    assert load_config(get_app("toy").config_class, run.config).training.epochs == 3
    run.load_model()


def test_an_unreadable_run_file_is_an_error_that_names_it(tmp_path, capsys):
    from lstmsuite.pipelines.cli import main

    app, cfg = toy("training.epochs=1")
    app.train(cfg, tmp_path)
    run = RunDir(tmp_path)
    run.config.write_text("")  # as a kill mid-write once left it
    assert main(["evaluate", "toy", "--run-dir", str(tmp_path)]) == 2
    assert f"{run.config} is empty" in capsys.readouterr().err
    app.train(cfg, tmp_path / "other")
    RunDir(tmp_path / "other").state.write_text('{"epoch": 1, "be')
    with pytest.raises(ValueError, match="state.json cannot be read"):
        app.train(cfg, tmp_path / "other")


def test_a_changed_learning_rate_takes_effect_on_resume(tmp_path):
    import keras

    app, cfg = toy("training.epochs=1", "training.learning_rate=0.01")
    app.train(cfg, tmp_path)
    resumed = toy_command(
        tmp_path, "training.epochs=2", "training.learning_rate=0.0005"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "training.learning_rate: 0.01 -> 0.0005" in resumed.stdout
    model = keras.models.load_model(RunDir(tmp_path).last, safe_mode=True)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0005)
    # What would change the meaning of the weights is refused, with the list.
    _, other = toy("training.epochs=3", "training.optimizer=sgd", "seed=5")
    with pytest.raises(ConfigError, match=r"seed: 1234 -> 5.*optimizer: 'adam'"):
        app.train(other, tmp_path)


def test_a_second_training_in_the_same_run_directory_is_refused(tmp_path):
    import os

    holder = subprocess.Popen(
        [
            PYTHON,
            "-c",
            "import sys, time; from lstmsuite.pipelines.contract import RunDir\n"
            f"with RunDir({str(tmp_path)!r}).lock():\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        app, cfg = toy("training.epochs=1")
        with pytest.raises(
            ValueError, match=rf"in use by another process \(pid {holder.pid} "
        ):
            app.train(cfg, tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # The holder is gone (as after kill -9): its lock file stays, and blocks nothing.
    assert (tmp_path / ".lock").exists()
    assert app.train(cfg, tmp_path)["epochs_completed"] == 1
    assert os.path.getsize(tmp_path / ".lock") > 0


def test_run_dir_problems_are_found_before_any_work(tmp_path, monkeypatch):
    from pathlib import Path

    app, cfg = toy("training.epochs=1")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        app.train(cfg, a_file)

    def read_only(self, data):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    monkeypatch.setattr(app, "load_data", lambda *a: pytest.fail("loaded data"))
    with pytest.raises(ValueError, match="is not writable"):
        app.train(cfg, tmp_path / "ro")


def test_a_damaged_best_checkpoint_falls_back_to_the_last(tmp_path):
    app, cfg = toy("training.epochs=1")
    app.train(cfg, tmp_path)
    run = RunDir(tmp_path)
    data = run.best.read_bytes()
    run.best.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="best.keras cannot be read.*last.keras"):
        model = run.load_model()
    assert model.output_shape[-1] == cfg.data.features
    run.last.unlink()
    with pytest.raises(ValueError, match="best.keras cannot be read"):
        run.load_model()


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.learning_rate=0", "training.learning_rate: expected a number > 0"),
        ("training.learning_rate=.inf", "training.learning_rate: expected a number"),
        ("training.epochs=0", "training.epochs: expected at least 1"),
        ("training.epochs=-2", "training.epochs: expected at least 1"),
        ("model.units=0", "model.units: expected at least 1"),
        ("model.dropout=1.5", r"model.dropout: expected a rate in \[0, 1\)"),
        ("training.ema_momentum=1", r"training.ema_momentum: expected in \(0, 1\)"),
        (
            ["training.monitor=last", "training.early_stopping_patience=2"],
            "early_stopping_patience: expected 0 with training.monitor: last",
        ),
    ],
)
def test_values_that_would_fail_deep_inside_keras_are_refused_at_load(
    override, message
):
    overrides = override if isinstance(override, list) else [override]
    with pytest.raises(ConfigError, match=message):
        toy(*overrides)


def test_monitor_last_keeps_the_last_epoch_as_best(tmp_path):
    app, cfg = toy("training.epochs=3", "training.monitor=last")
    summary = app.train(cfg, tmp_path)
    assert summary["best_epoch"] == 3 and summary["best"] == 3
    run = RunDir(tmp_path)
    best, last = run.load_model(run.best), run.load_model(run.last)
    for b, w in zip(best.get_weights(), last.get_weights(), strict=True):
        np.testing.assert_array_equal(b, w)


def _ema_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _slots(model):
    return [v.numpy() for v in model.optimizer._model_variables_moving_average]


def test_averaged_weights_are_saved_and_a_resumed_run_trains_the_raw_ones():
    import keras

    from lstmsuite.pipelines.training import AveragedWeights

    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.ones((16, 2), "float32")
    seen = {}

    class Saved(keras.callbacks.Callback):  # what a checkpoint after it would save
        def on_epoch_end(self, epoch, logs=None):
            seen.setdefault("model", self.model.get_weights())
            seen.setdefault("slots", _slots(self.model))

    model = _ema_model()
    callbacks = [AveragedWeights(resumed=False), Saved()]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=callbacks)
    # At the end of epoch 1 the model held the average and the slots the raw
    # weights: they differ after 4 steps of momentum 0.5.
    assert not np.allclose(seen["model"][0], seen["slots"][0])

    # A resumed run restores that swapped pair (as the backup saved it) ...
    resumed = _ema_model()
    resumed.set_weights(seen["model"])
    for slot, value in zip(
        resumed.optimizer._model_variables_moving_average, seen["slots"]
    ):
        slot.assign(value)
    began = {}

    class Began(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            began.setdefault("model", self.model.get_weights())
            began.setdefault("slots", _slots(self.model))

    callbacks = [AveragedWeights(resumed=True), Began()]
    resumed.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=callbacks)
    # ... and its first epoch starts from the raw weights, the average kept.
    for got, want in zip(began["model"], seen["slots"]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(began["slots"], seen["model"]):
        np.testing.assert_array_equal(got, want)


def test_a_run_with_averaged_weights_resumes_and_saves_the_average(tmp_path):
    app, cfg = toy("training.epochs=1", "training.ema_momentum=0.9")
    app.train(cfg, tmp_path)
    resumed = toy_command(tmp_path, "training.epochs=2", "training.ema_momentum=0.9")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming" in resumed.stdout
    run = RunDir(tmp_path)
    assert read_history(run.history)["epoch"] == [1, 2]
    import keras

    model = keras.models.load_model(run.last, safe_mode=True)  # with its optimizer
    # The last epoch ends with the average in the model and in the slots alike.
    for weight, slot in zip(model.get_weights(), _slots(model)):
        np.testing.assert_allclose(weight, slot)
    # Switching the averaging on or off would change what the weights mean.
    _, other = toy("training.epochs=3")
    with pytest.raises(ConfigError, match="ema_momentum: 0.9 -> None"):
        app.train(other, tmp_path)


def test_a_monitor_the_model_does_not_log_is_named_after_the_first_epoch(tmp_path):
    app, cfg = toy("training.epochs=3", "training.monitor=val_acuracy")
    with pytest.raises(ConfigError, match="training.monitor: 'val_acuracy' is not"):
        app.train(cfg, tmp_path)
    assert RunDir(tmp_path).read_state().get("epoch") is None


def test_an_empty_config_file_and_another_apps_run_are_named(tmp_path, capsys):
    from lstmsuite.pipelines.cli import main

    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert main(["train", "toy", "--config", str(empty)]) == 2
    assert "the file is empty" in capsys.readouterr().err
    app, cfg = toy("training.epochs=1")
    app.train(cfg, tmp_path / "run")
    assert main(["evaluate", "music", "--run-dir", str(tmp_path / "run")]) == 2
    assert "is a toy run, not a music one" in capsys.readouterr().err


def test_a_kill_inside_an_atomic_write_leaves_the_old_file(tmp_path):
    """The in-write fault points without a whole training: a child process
    killed between writing the new file and renaming it over the old one."""
    from lstmsuite.pipelines.contract import write_json

    path = tmp_path / "state.json"
    write_json(path, {"epoch": 1})
    code = (
        "import sys; from lstmsuite.pipelines.contract import write_json; "
        "write_json(sys.argv[1], {'epoch': 2})"
    )
    env = subprocess_env(LSTMSUITE_FAULT="write:state.json:1")
    killed = subprocess.run([PYTHON, "-c", code, str(path)], env=env, cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL
    assert json.loads(path.read_text()) == {"epoch": 1}  # the old file, whole
    done = subprocess.run([PYTHON, "-c", code, str(path)], env=subprocess_env())
    assert done.returncode == 0 and json.loads(path.read_text()) == {"epoch": 2}


def test_tuning_trials_validate_with_the_averaged_weights(tmp_path):
    """With `training.ema_momentum`, a KerasTuner trial validates (and ends each
    epoch) with the averaged weights, as a training run does: what the tuner
    ranks and keeps is the model a run of that config would save."""
    import keras
    import keras_tuner as kt

    from lstmsuite.pipelines.tuning import ConfigHyperModel

    app, cfg = toy("training.ema_momentum=0.5")
    hypermodel = ConfigHyperModel(app, cfg, {}, tmp_path)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    seen = {}

    class TunerCallback(keras.callbacks.Callback):  # where KerasTuner's are
        """What the first epoch's last step, its validation and its end see (the
        last epoch's end differs: Keras then copies the average into the slots)."""

        def on_train_batch_end(self, batch, logs=None):
            if "end" not in seen:  # the first epoch's
                seen["raw"] = self.model.get_weights()

        def on_test_begin(self, logs=None):
            seen.setdefault("validated", self.model.get_weights())

        def on_epoch_end(self, epoch, logs=None):
            seen.setdefault("end", self.model.get_weights())
            seen.setdefault("end_slots", _slots(self.model))

    history = hypermodel.fit(hp, model, epochs=2, callbacks=[TunerCallback()])
    assert len(history.history["val_loss"]) == 2
    # Validation and the epoch's end see the average; the raw weights of the last
    # step wait in the optimizer's slots (Keras swaps them on TensorFlow by sums
    # and differences, so to float rounding).
    assert not all(np.array_equal(a, b) for a, b in zip(seen["validated"], seen["raw"]))
    for validated, end, slot, raw in zip(
        seen["validated"], seen["end"], seen["end_slots"], seen["raw"]
    ):
        np.testing.assert_array_equal(validated, end)
        np.testing.assert_allclose(slot, raw, rtol=1e-5, atol=1e-6)


def test_divergence_advice_names_the_layernorm_zero_input_hazard(tmp_path):
    """A lower learning rate cannot fix the LayerNorm cell's zero-state gradient
    (layers/layer_norm_lstm.py), so its message says what does."""
    from types import SimpleNamespace

    from lstmsuite.pipelines.training import _diverged_message

    run = RunDir(tmp_path)
    generic = _diverged_message(
        run, (0, 3), {}, SimpleNamespace(model=SimpleNamespace(cell="lstm"))
    )
    assert "learning_rate" in generic and "standardize" not in generic
    layernorm = _diverged_message(
        run, (0, 3), {}, SimpleNamespace(model=SimpleNamespace(cell="layernorm"))
    )
    assert "epoch 1, batch 4" in layernorm
    assert "data.standardize=true" in layernorm and "mask" in layernorm
