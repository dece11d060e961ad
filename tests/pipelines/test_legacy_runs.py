"""Files written before the `lstmsuite` namespace still load, evaluate and predict.

`tests/fixtures/legacy/` holds a `.keras` file with every layer and one tiny run
directory per app, written by the code of commit 87536e7 (when the packages were
still imported as `layers`, `pipelines` and `apps`), with the scores that code's
`evaluate` printed. See its README for how they were made.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lstmsuite.pipelines.cli import main

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"

# The data these runs were trained on, at their new place (config.yaml keeps the
# path they had when they were written).
DATA = {
    "music": ["--set", "data.path={data}/tiny.mat"],
    "translation": ["--set", "data.path={data}/numbers.txt"],
    "handwriting": [],
    "captioning": [],
}


def test_legacy_keras_file_loads_with_the_same_outputs():
    import keras

    import lstmsuite.layers  # noqa: F401  (registers the classes the file names)

    model = keras.models.load_model(LEGACY / "all_layers.keras", safe_mode=True)
    io = np.load(LEGACY / "all_layers_io.npz")
    np.testing.assert_allclose(model(io["x"]), io["y"], rtol=1e-5, atol=1e-6)


@pytest.fixture
def legacy(tmp_path):
    """A writable copy of the legacy runs and their data."""
    shutil.copytree(LEGACY, tmp_path / "legacy")
    return tmp_path / "legacy"


def _scores(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if not k.startswith("seconds")}


@pytest.mark.parametrize("app", sorted(DATA))
def test_legacy_run_evaluates_to_the_same_scores(app, legacy, capsys):
    run = legacy / app
    expected = json.loads((run / "evaluation.json").read_text())
    data = [arg.format(data=legacy / "data") for arg in DATA[app]]
    assert main(["evaluate", app, "--run-dir", str(run), *data]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # Scores added since (music's "output") may be there too; the old ones are equal.
    scores = {k: v for k, v in scores.items() if k in expected}
    assert _scores(scores) == pytest.approx(_scores(expected), rel=1e-6, abs=1e-9)


def test_a_legacy_music_run_is_still_a_bernoulli_model_and_resumes(legacy, capsys):
    """The NADE became music's default output after this run was saved: its
    config.yaml, which has no `model.output`, still means the Bernoulli model."""
    run = legacy / "music"
    data = [arg.format(data=legacy / "data") for arg in DATA["music"]]
    assert main(["evaluate", "music", "--run-dir", str(run), *data]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["output"] == "bernoulli"
    # Its own config file now reads as a NADE: resuming says what differs...
    config = str(legacy / "music-config.yaml")
    shutil.copy(run / "config.yaml", config)
    train = ["train", "music", "--config", config, "--run-dir", str(run), *data]
    more = ["--set", "training.epochs=2", "--set", "runtime.verbose=0"]
    assert main([*train, *more]) == 2
    assert "model.output: 'bernoulli' -> 'nade'" in capsys.readouterr().err
    # ... and with the output named, it resumes the Bernoulli model.
    assert main([*train, *more, "--set", "model.output=bernoulli"]) == 0
    assert "training.epochs: 1 -> 2" in capsys.readouterr().out
    assert json.loads((run / "metrics.json").read_text())["epochs_completed"] == 2


def test_legacy_runs_generate_and_predict(legacy, capsys, tmp_path):
    from PIL import Image

    music = legacy / "music"
    # Its primer is the first test piece, read from the data at its new place.
    data = [arg.format(data=legacy / "data") for arg in DATA["music"]]
    assert main(["generate", "music", "--run-dir", str(music), *data]) == 0
    assert list((music / "generated").glob("*.mid"))

    translation = legacy / "translation"
    assert main(["predict", "translation", "--run-dir", str(translation), "Two."]) == 0
    assert capsys.readouterr().out.strip()

    image = tmp_path / "line.png"
    Image.fromarray(np.full((16, 48), 255, np.uint8)).save(image)
    handwriting = legacy / "handwriting"
    args = ["predict", "handwriting", "--run-dir", str(handwriting), str(image)]
    assert main(args) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1

    picture = tmp_path / "picture.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(picture)
    captioning = legacy / "captioning"
    assert (
        main(["predict", "captioning", "--run-dir", str(captioning), str(picture)]) == 0
    )
    assert capsys.readouterr().out.strip()
