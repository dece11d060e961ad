"""The lab end to end on tiny configs: train, resume, evaluate every task against
its baseline, the figures, a two-cell study, the MNIST sources and config errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lstmsuite.apps.long_range import data
from lstmsuite.apps.long_range.app import LongRangeConfig
from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs" / "long_range"
TINY = str(CONFIGS / "tiny.yaml")
SMALL = ["--set", "data.train_batches=2", "--set", "training.epochs=1",
         "--set", "data.eval_examples=16", "--set", "model.units=4"]  # fmt: skip


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def sets(*items):
    return [arg for item in items for arg in ("--set", item)]


def test_shipped_configs_load():
    names = {path.stem for path in CONFIGS.glob("*.yaml")}
    assert {"adding", "copy", "selective_copy", "parity", "smnist", "pmnist"} <= names
    for path in sorted(CONFIGS.glob("*.yaml")):
        cfg = load_config(LongRangeConfig, path, app="long_range")
        # One config per task with the LSTM; a variant's config is named after it.
        expected = "layernorm" if path.stem == "smnist_layernorm" else "lstm"
        assert cfg.model.cell == expected


def test_tiny_run_trains_resumes_evaluates_and_draws(tmp_path, capsys):
    run = ["--run-dir", str(tmp_path / "run")]
    assert main(["train", "long_range", "--config", TINY, *run]) == 0
    capsys.readouterr()
    more = sets("training.epochs=3")
    assert main(["train", "long_range", "--config", TINY, *run, *more]) == 0
    assert "Resuming" in capsys.readouterr().out
    with open(tmp_path / "run" / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 3

    assert main(["evaluate", "long_range", *run]) == 0
    scores = last_json(capsys)
    assert scores["test_examples"] == 32
    assert 0.1 < scores["baseline_mse"] < 0.3 and scores["mse"] > 0

    assert main(["generate", "long_range", *run]) == 0
    printed = capsys.readouterr().out
    assert "||dL/ds_t|| of the trained lstm" in printed
    figures = tmp_path / "run" / "figures"
    for name in ("gradient_flow.png", "gates.png", "gradient_flow.json"):
        assert (figures / name).stat().st_size > 1000 or name.endswith(".json")
    curves = json.loads((figures / "gradient_flow.json").read_text())
    assert len(curves["trained"]) == len(curves["untrained"]) == 20


@pytest.mark.parametrize(
    "task, keys",
    [
        (["data.source=copy", "data.length=6"],
         ["nats_per_step", "baseline_nats_per_step", "symbol_accuracy"]),
        (["data.source=selective_copy", "data.length=12", "model.cell=gru"],
         ["nats_per_step", "baseline_nats_per_step", "symbol_accuracy"]),
        (["data.source=parity", "data.length=6", "data.test_buckets=[6,8,12]"],
         ["accuracy", "accuracy_train_lengths", "accuracy_7_8", "accuracy_9_12",
          "baseline_accuracy"]),
        (["data.source=pmnist", "data.batch_size=64", "data.standardize=true"],
         ["accuracy", "baseline_accuracy"]),
    ],
)  # fmt: skip
def test_each_task_evaluates_against_its_baseline(tmp_path, capsys, task, keys):
    run = ["--run-dir", str(tmp_path / "run")]
    assert (
        main(["train", "long_range", "--config", TINY, *run, *SMALL, *sets(*task)]) == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "long_range", *run]) == 0
    scores = last_json(capsys)
    # The task's metric comes first: `study` plots the first score by default.
    assert set(keys) <= set(scores) and list(scores)[0] == keys[0]
    assert np.isfinite(scores[keys[0]])
    if "nats_per_step" in scores:
        steps = 6 + 20 if "copy" in task[0] and "selective" not in task[0] else 12 + 11
        assert scores["baseline_nats_per_step"] == pytest.approx(
            10 * np.log(8) / steps, 1e-5
        )
    if "pmnist" in task[0]:
        # The permutation is saved with the run and is one of the 64 pixels;
        # scikit-learn's 1,797 digits split 1437 / 179 / 181.
        saved = json.loads((tmp_path / "run" / data.PERMUTATION_FILE).read_text())
        assert sorted(saved["permutation"]) == list(range(64))
        assert (
            scores["test_examples"] == 181 and 0.09 < scores["baseline_accuracy"] < 0.2
        )


def test_study_of_two_cells_draws_their_gradient_flow(tmp_path, capsys):
    study_dir = tmp_path / "study"
    args = ["study", "long_range", "--config", TINY, "--cells", "simple_rnn,lstm",
            "--run-dir", str(study_dir), *SMALL]  # fmt: skip
    assert main(args) == 0
    with open(study_dir / "study.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["cell"] for row in rows] == ["simple_rnn", "lstm"]
    assert all(float(row["mse"]) > 0 and row["baseline_mse"] for row in rows)
    assert (study_dir / "study.png").exists()
    assert (study_dir / "gradient_flow.png").stat().st_size > 1000
    for cell in ("simple_rnn", "lstm"):
        assert (study_dir / cell / "figures" / "gradient_flow.json").exists()


def test_mnist_npz_source_splits_and_rejects_bad_files(tmp_path):
    rng = np.random.default_rng(0)
    file = tmp_path / "mnist.npz"
    np.savez(
        file,
        x_train=rng.integers(0, 256, (5010, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 5010),
        x_test=rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 7),
    )
    images = data.load_images(file)
    assert {k: len(v[0]) for k, v in images.items()} == {
        "train": 10, "valid": 5000, "test": 7
    }  # fmt: skip
    assert images["train"][0].shape == (10, 784) and images["train"][0].max() <= 1
    order = data.permutation(0, 784)
    x, y = next(iter(data.image_dataset(*images["test"], order, batch_size=4)))
    assert x.shape == (4, 784, 1)
    np.testing.assert_allclose(x[0, :, 0], images["test"][0][0][order])

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read as a NumPy"):
        data.load_images(bad)
    with pytest.raises(ConfigError, match="data.path"):
        data.load_images(tmp_path / "missing.npz")


def test_standardized_images_use_the_training_statistics():
    """`data.standardize`: every split minus the training pixels' mean, over
    their standard deviation; no blank pixel is left at exactly 0."""
    raw = data.load_images(None)
    images = data.load_images(None, standardize=True)
    train = raw["train"][0].astype(np.float64)
    mean, std = train.mean(), train.std()
    for name in ("train", "valid", "test"):
        x, y = images[name]
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, (raw[name][0] - mean) / std, atol=1e-5)
        np.testing.assert_array_equal(y, raw[name][1])
        assert (raw[name][0] == 0).any() and not (x == 0).any()
    assert abs(images["train"][0].mean()) < 1e-5
    assert abs(images["train"][0].std() - 1) < 1e-5


def test_a_saved_permutation_of_other_images_is_refused(tmp_path):
    cfg = load_config(LongRangeConfig, TINY, ["data.source=pmnist"])
    order = data.run_permutation(cfg.data, tmp_path, 64, create=True)
    again = data.run_permutation(cfg.data, tmp_path, 64, create=False)
    np.testing.assert_array_equal(order, again)
    with pytest.raises(ValueError, match="not a permutation of the 784 pixels"):
        data.run_permutation(cfg.data, tmp_path, 784, create=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.source=addng"], "Did you mean 'adding'"),
        (["data.path=x.npz"], "data.path: expected unset"),
        (["data.source=selective_copy", "data.length=4"], "at least 10"),
        (["model.cell=gru", "model.chrono_init=100"], "model.cell: expected one of"),
        (["data.source=parity", "data.length=50"], "data.test_buckets"),
        (["data.options={symbols: 3}"], "data.options: adding"),
        (["data.standardize=true"], "data.standardize: expected false"),
    ],
)
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(LongRangeConfig, TINY, overrides, app="long_range")
