"""The runner on the toy app: run directory, resume after kill -9, NaN guard."""

import json
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


def test_kill_9_then_the_same_command_resumes(tmp_path):
    command = [
        PYTHON,
        "-c",
        "import sys, tests.pipelines.toy_app; "
        "from lstmsuite.pipelines.cli import main; "
        "sys.exit(main(sys.argv[1:]))",
        "train",
        "toy",
        "--run-dir",
        str(tmp_path),
        "--set",
        "runtime.verbose=0",
        "--set",
        "model.sleep=0.05",
    ]
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
