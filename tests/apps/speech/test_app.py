"""The speech app end to end on tiny configs: classify and CTC each train, resume,
evaluate (with the confusion PNG) and predict WAV files (a bad one included)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lstmsuite.apps.speech.app import SpeechConfig
from lstmsuite.apps.speech.evaluate import confusion
from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import load_config
from lstmsuite.pipelines.contract import RunDir
from tests.apps.speech.fixtures import write_wav

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs" / "speech"
TINY = str(CONFIGS / "tiny.yaml")
QUIET = ["--set", "runtime.verbose=0"]
CTC = [
    "--set", "task=ctc", "--set", "data.strings.train_strings=48",
    "--set", "data.strings.eval_strings=8", "--set", "data.strings.max_digits=3",
    # MFCCs here (log-mel in the classify run): 8 coefficients of the 16 mel bins,
    # and their deltas (16 inputs), which predict must compute as training did.
    "--set", "data.features.cepstra=8", "--set", "data.features.deltas=1",
]  # fmt: skip


def test_shipped_configs_load():
    configs = {
        path.stem: load_config(SpeechConfig, path, app="speech")
        for path in sorted(CONFIGS.glob("*.yaml"))
    }
    assert {"tiny", "digits", "digits_speakers", "strings"} <= set(configs)
    for cfg in configs.values():
        assert cfg.app == "speech" and cfg.model.units > 0
    four = configs["strings_4voices"].data.options
    assert four == {"split": "speakers", "valid_speakers": []}


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def tone_files(tmp_path: Path) -> list[str]:
    from lstmsuite.apps.speech.data import load_tones

    clips = load_tones(rate=8000, per_class=7, speakers=2)["test"]
    return [
        str(write_wav(tmp_path / f"{text}_{i}.wav", audio))
        for i, (audio, text) in enumerate(zip(clips.audio[:3], clips.texts[:3]))
    ]


@pytest.mark.parametrize("task", ["classify", "ctc"])
def test_tiny_run_trains_resumes_evaluates_and_predicts(task, tmp_path, capsys):
    # The classify run has the CNN front end (log-mel), the ctc run MFCCs and none.
    options = CTC if task == "ctc" else ["--set", "model.conv_filters=[4, 4]"]
    run = ["--run-dir", str(tmp_path / "run"), *QUIET, *options]
    assert main(["train", "speech", "--config", TINY, *run]) == 0
    capsys.readouterr()
    more = ["--set", "training.epochs=2"]
    assert main(["train", "speech", "--config", TINY, *run, *more]) == 0
    assert "Resuming" in capsys.readouterr().out
    with open(tmp_path / "run" / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 2

    assert main(["evaluate", "speech", *run]) == 0
    scores = last_json(capsys)
    assert scores["task"] == task
    if task == "classify":
        assert 0 <= scores["accuracy"] <= 1 and scores["recordings"] == 20
        assert (tmp_path / "run" / "classes.json").exists()
    else:
        for key in ("cer", "wer", "cer_greedy", "cer_beam", "string_accuracy_beam"):
            assert scores[key] >= 0
        assert scores["strings"] == 8 and scores["words"] >= 8
        assert (tmp_path / "run" / "alphabet.json").exists()
    assert Path(scores["confusion_png"]).stat().st_size > 0
    model = RunDir(tmp_path / "run").load_model()
    assert model.input["features"].shape[-1] == 16  # ctc: 8 MFCCs + 8 deltas
    convs = [layer for layer in model.layers if "Conv2D" in type(layer).__name__]
    assert len(convs) == (0 if task == "ctc" else 2)

    files = tone_files(tmp_path)
    assert main(["predict", "speech", *run, *files]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    if task == "classify":
        assert all(line in "0123456789" for line in lines)
    else:
        assert all(set(line) <= set("0123456789 ") for line in lines)

    # files[0] alone: in a batch of three its scores may differ in the last bit,
    # which can tip a near tie of this barely trained model's decoding.
    assert main(["predict", "speech", *run, files[0]]) == 0
    first = capsys.readouterr().out.splitlines()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    assert main(["predict", "speech", *run, files[0], str(bad)]) != 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [*first, ""]  # the bad file's line is empty
    assert "bad.wav" in captured.err and "empty file" in captured.err


def test_a_trained_classifier_learns_the_tones(tmp_path, capsys):
    # 400 training clips, 10 epochs: about 10 s; it measured 0.98 on validation.
    more = ["--set", "training.epochs=10", "--set", "training.learning_rate=0.01"]
    data = ["--set", "data.options={per_class: 20, speakers: 2}"]
    run = ["--run-dir", str(tmp_path), *QUIET, *data]
    assert main(["train", "speech", "--config", TINY, *run, *more]) == 0
    capsys.readouterr()
    assert main(["evaluate", "speech", *run]) == 0
    assert last_json(capsys)["accuracy"] >= 0.8  # chance is 0.1


def test_ctc_confusion_counts_aligned_words():
    labels = ["1", "2", "3", "∅"]
    pairs = [("1 2 3", "1 3 3"), ("1 2", "1"), ("3", "3 3"), ("1 2 3", "2")]
    matrix = confusion(pairs, labels, words=True)
    want = np.zeros((4, 4), int)
    cells = [
        (0, 0), (1, 2), (2, 2),  # "1 2 3" -> "1 3 3": a substitution
        (0, 0), (1, 3),  # "1 2" -> "1": a deletion
        (2, 2), (3, 2),  # "3" -> "3 3": an insertion
        (1, 1), (0, 3), (2, 3),  # "1 2 3" -> "2": the 2 kept, 1 and 3 deleted
    ]  # fmt: skip
    for i, j in cells:
        want[i, j] += 1
    np.testing.assert_array_equal(matrix, want)


def test_config_errors_name_the_key(tmp_path, capsys):
    bad = [
        ("data.max_length=100", "data.max_length"),
        ("data.source=fsd", "fsdd"),
        ("data.features.fmax=9000", "fmax"),
        ("model.frame_stack=0", "model.frame_stack"),
        ("model.conv_filters=[8, 0]", "model.conv_filters"),
        ("model.conv_pool=0", "model.conv_pool"),
        ("data.features.deltas=3", "data.features.deltas"),
        ("data.features.delta_window=0", "data.features.delta_window"),
        ("task=asr", "task"),
        ("data.options={rate: 16000}", "data.sample_rate"),
    ]
    for override, message in bad:
        args = ["--config", TINY, "--run-dir", str(tmp_path), "--set", override]
        assert main(["train", "speech", *args]) == 2
        assert message in capsys.readouterr().err
    both = ["--set", "model.conv_filters=[4]", "--set", "data.features.deltas=1"]
    assert main(["train", "speech", "--config", TINY, "--run-dir", str(tmp_path),
                 *both]) == 2  # fmt: skip
    assert "model.conv_filters with data.features.deltas" in capsys.readouterr().err
    missing = ["--set", "data.source=fsdd", "--set", f"data.path={tmp_path}/none",
               "--set", "data.options={}"]  # fmt: skip
    assert main(["train", "speech", "--config", TINY, "--run-dir", str(tmp_path),
                 *missing]) == 2  # fmt: skip
    assert "fsdd data folder not found" in capsys.readouterr().err
