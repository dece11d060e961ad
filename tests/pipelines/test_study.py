"""`lstmsuite study`: one config per cell, the tables, resuming, early errors."""

import csv
import json

import pytest

import tests.pipelines.toy_app  # noqa: F401 -- registers the app "toy"
from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import ConfigError
from lstmsuite.pipelines.registry import get_app
from lstmsuite.pipelines.study import TIMING_FILE, study

SETS = ["runtime.verbose=0", "model.use_cell=true", "training.epochs=2"]


def test_each_cell_trains_evaluates_and_resumes_with_its_timing(tmp_path):
    app = get_app("toy")
    rows = study(app, "toy", None, SETS, ["lstm", "gru"], tmp_path)
    assert [row["cell"] for row in rows] == ["lstm", "gru"]
    lstm, gru = rows
    assert lstm["status"] == gru["status"] == "completed"
    assert lstm["epochs"] == gru["epochs"] == 2
    # The cell really changed: an LSTM has 4 gate blocks to the GRU's 3.
    assert lstm["params"] > gru["params"]
    for row in rows:
        assert row["s_per_epoch"] > 0 and row["train_seconds"] > 0
        assert 0 < row["valid_loss"] < 2 and row["batches"] >= 1
        assert (tmp_path / row["cell"] / "checkpoints" / "best.keras").exists()

    with open(tmp_path / "study.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["cell"] for r in table] == ["lstm", "gru"]
    assert float(table[0]["valid_loss"]) == pytest.approx(lstm["valid_loss"])
    markdown = (tmp_path / "study.md").read_text().splitlines()
    assert markdown[0].startswith("| cell | status | params |")
    assert len(markdown) == 4 and markdown[2].startswith("| lstm | completed |")
    assert (tmp_path / "study.png").read_bytes()[:4] == b"\x89PNG"

    # Again: both runs are finished, nothing trains, the timings are kept.
    timing = json.loads((tmp_path / "lstm" / TIMING_FILE).read_text())
    again = study(app, "toy", None, SETS, ["lstm", "gru"], tmp_path)
    assert [r["train_seconds"] for r in again] == [r["train_seconds"] for r in rows]
    assert json.loads((tmp_path / "lstm" / TIMING_FILE).read_text()) == timing
    assert again[0]["valid_loss"] == pytest.approx(lstm["valid_loss"])


def test_every_cell_is_checked_before_any_training(tmp_path):
    app = get_app("toy")
    with pytest.raises(ConfigError, match="Did you mean 'gru'"):
        study(app, "toy", None, SETS, ["lstm", "gur"], tmp_path)
    # LSTMP needs its width; as an override for all cells the others refuse it.
    with pytest.raises(ConfigError, match="proj_units: not an argument"):
        study(
            app,
            "toy",
            None,
            [*SETS, "model.cell_options.proj_units=2"],
            ["lstmp", "gru"],
            tmp_path,
        )
    # ... and without it the study stops before training the cell listed first.
    with pytest.raises(ConfigError, match="lstmp' cell needs the size"):
        study(app, "toy", None, SETS, ["gru", "lstmp"], tmp_path)
    with pytest.raises(ValueError, match="not in --cells: mingru"):
        study(app, "toy", None, SETS, ["lstm"], tmp_path, cell_overrides={"mingru": []})
    with pytest.raises(ValueError, match="named twice"):
        study(app, "toy", None, SETS, ["lstm", "lstm"], tmp_path)
    assert not any(tmp_path.iterdir())  # nothing was trained or written


def test_cli_study_with_a_cell_override_and_a_metric(tmp_path, capsys):
    argv = ["study", "toy", "--cells", "lstmp,mingru", "--run-dir", str(tmp_path)]
    argv += [arg for s in SETS for arg in ("--set", s)]
    argv += ["--set", "training.epochs=1"]
    argv += ["--cell-set", "lstmp:model.cell_options.proj_units=2"]
    assert main([*argv, "--metric", "batches"]) == 0
    out = capsys.readouterr().out
    assert "| lstmp | completed |" in out and "| mingru | completed |" in out
    assert f"study tables: {tmp_path / 'study.md'}" in out
    assert main([*argv, "--metric", "bleu"]) == 2
    assert "--metric 'bleu' is not a score of this app" in capsys.readouterr().err
    assert main([*argv[:-2], "--cell-set", "lstmp-proj_units"]) == 2
    assert "expected CELL:KEY=VALUE" in capsys.readouterr().err


def test_a_cell_resumed_from_an_untimed_run_times_only_its_own_epochs(tmp_path):
    """As after a study killed mid-cell: epochs trained before, with no timing
    recorded, count in neither the seconds nor the epochs of the timing."""
    from lstmsuite.pipelines.config import load_config

    app = get_app("toy")
    first = load_config(app.config_class, None, [*SETS[:-1], "training.epochs=1"])
    app.train(first, tmp_path / "lstm")  # model.cell's default: lstm
    (row,) = study(app, "toy", None, SETS, ["lstm"], tmp_path)
    assert row["epochs"] == 2
    assert json.loads((tmp_path / "lstm" / TIMING_FILE).read_text())["epochs"] == 1
    assert row["s_per_epoch"] == pytest.approx(row["train_seconds"], rel=0.01)


def test_a_cell_out_of_its_time_budget_is_not_trained_again(tmp_path):
    """A run stopped by `training.max_minutes` would resume for a second budget
    if trained again; the study evaluates it as it is, so that every cell had one
    budget."""
    app = get_app("toy")
    sets = [*SETS, "training.epochs=50", "training.max_minutes=0.0001"]
    first = study(app, "toy", None, sets, ["lstm"], tmp_path)
    assert first[0]["status"] == "time_budget" and first[0]["epochs"] == 1
    again = study(app, "toy", None, sets, ["lstm"], tmp_path)
    assert again[0]["epochs"] == 1 and again[0]["status"] == "time_budget"
    with open(tmp_path / "lstm" / "history.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 1
