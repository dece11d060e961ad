"""The handwriting app end to end with the tiny config: training whose loss falls,
evaluate, predict on image files (a bad one included), unknown characters, config
errors. One trained run is shared by the module."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lstmsuite.apps.handwriting.app import (
    HandwritingConfig,
    make_alphabet,
    usable_for_loss,
)
from lstmsuite.apps.handwriting.data import ImageFiles
from lstmsuite.apps.handwriting.synth import SyntheticLines, digits_glyphs
from lstmsuite.pipelines.alphabet import Alphabet, report_unknown
from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs" / "handwriting"
TINY = str(CONFIGS / "tiny.yaml")
QUIET = ["--set", "runtime.verbose=0"]


def test_shipped_configs_load():
    for name in ("tiny", "digits_lines", "mnist_lines"):
        cfg = load_config(
            HandwritingConfig, CONFIGS / f"{name}.yaml", app="handwriting"
        )
        assert cfg.app == "handwriting" and cfg.model.units > 0


def test_apps_lists_handwriting(capsys):
    assert main(["apps"]) == 0
    assert "handwriting" in capsys.readouterr().out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    args = ["--config", TINY, "--run-dir", str(run_dir), *QUIET]
    assert main(["train", "handwriting", *args, "--set", "training.epochs=3"]) == 0
    return run_dir


def test_training_loss_falls_and_the_run_has_what_inference_needs(trained):
    with open(trained / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert Alphabet.load(trained / "alphabet.json") == Alphabet("0123456789")
    assert (trained / "checkpoints" / "best.keras").exists()


def test_evaluate_reports_greedy_and_beam(trained, capsys):
    capsys.readouterr()
    assert main(["evaluate", "handwriting", "--run-dir", str(trained)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    scores = json.loads(lines[-1])
    for name in ("greedy", "beam"):
        for metric in ("cer", "wer", "line_accuracy"):
            assert 0.0 <= scores[f"{metric}_{name}"] <= 10.0
    assert scores["lines"] > 0 and scores["chars"] >= scores["lines"]
    assert scores["unknown_char_lines"] == 0


def test_evaluate_with_a_lexicon(trained, tmp_path, capsys):
    from lstmsuite.apps.handwriting.app import load_splits

    cfg = load_config(HandwritingConfig, trained / "config.yaml")
    words = load_splits(cfg.data)["test"].transcriptions()
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("\n".join([*words, "12a"]) + "\n")
    capsys.readouterr()
    lex = ["--set", f"decode.lexicon={lexicon}", "--run-dir", str(trained)]
    with pytest.warns(UserWarning, match="1 words of .* outside the alphabet"):
        assert main(["evaluate", "handwriting", *lex]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= scores["cer_lexicon"] <= 10.0
    assert 0.0 <= scores["line_accuracy_lexicon"] <= 1.0


def test_predict_prints_one_line_per_image(trained, tmp_path, capsys):
    # A test line as a scan: dark digits on white paper.
    glyphs, labels = digits_glyphs()
    image, _ = next(iter(SyntheticLines(glyphs[:20], labels[:20], seed=1).dataset()))
    page = ((1.0 - image.numpy()) * 255).astype(np.uint8)
    Image.fromarray(page).save(tmp_path / "line.png")
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    paths = [str(tmp_path / "line.png"), str(tmp_path / "bad.png")]
    capsys.readouterr()
    with pytest.warns(UserWarning, match="bad.png: unreadable image"):
        code = main(["predict", "handwriting", "--run-dir", str(trained), *paths])
    # Every line is printed, then the error: not all inputs were read.
    assert code == 2
    captured = capsys.readouterr()
    assert "could not read 1 of 2 inputs" in captured.err and "bad.png" in captured.err
    out = captured.out.split("\n")
    assert len(out) == 3 and out[2] == ""  # two lines, then the final newline
    assert set(out[0]) <= set("0123456789") and out[1] == ""
    greedy = ["--set", "decode.strategy=greedy"]
    assert (
        main(["predict", "handwriting", "--run-dir", str(trained), *greedy, paths[0]])
        == 0
    )
    assert set(capsys.readouterr().out.strip()) <= set("0123456789")


def test_evaluate_reports_unknown_test_characters(trained, tmp_path, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    glyphs, labels = digits_glyphs()
    lines = SyntheticLines(glyphs[:30], labels[:30], seed=2).dataset().take(3)
    rows = []
    for i, ((image, text), split) in enumerate(zip(lines, ["train", "valid", "test"])):
        Image.fromarray((image.numpy() * 255).astype(np.uint8)).save(
            folder / f"{i}.png"
        )
        text = text.numpy().decode() + ("x" if split == "test" else "")
        rows.append(f"{i}.png\t{text}\t{split}\n")
    (folder / "labels.tsv").write_text("".join(rows))
    data = ["--set", "data.source=folder", "--set", f"data.path={folder}"]
    data += ["--set", "data.options={}"]
    capsys.readouterr()
    with pytest.warns(
        UserWarning, match=r"outside the alphabet: 'x' \(1x\); e.g. in 2.png"
    ):
        assert main(["evaluate", "handwriting", "--run-dir", str(trained), *data]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["unknown_char_lines"] == 1 and scores["lines"] == 1
    assert scores["cer_greedy"] > 0  # the "x" can never be written


def test_unknown_characters_in_training_and_validation_are_clear():
    train = ImageFiles(["a.png", "b.png"], ["12", "3é"], ["a.png", "b.png"])
    with pytest.raises(
        ConfigError, match=r"data.alphabet: train: 1 of 2 .* 'é'.*b.png"
    ):
        make_alphabet(
            load_config(HandwritingConfig, TINY).data.__class__(alphabet="0123456789"),
            train,
        )
    alphabet = Alphabet.build(["12", "3"])
    valid = ImageFiles(["c.png", "d.png"], ["21", "4"], ["c.png", "d.png"])
    with pytest.warns(UserWarning, match="valid: 1 of 2 .*'4'.*d.png.*left out"):
        kept = usable_for_loss(valid, alphabet, "valid")
    assert kept.transcriptions() == ["21"]
    bad, message = report_unknown(
        alphabet, ["1", "x1y", "yy"], ["l0", "l1", "l2"], "test"
    )
    assert bad == [1, 2] and "'y' (3x)" in message and "'x' (1x)" in message


def test_config_errors_name_the_key(tmp_path, capsys):
    run = ["--run-dir", str(tmp_path / "r"), *QUIET]
    assert main(["train", "handwriting", "--config", TINY, *run,
                 "--set", "data.max_length=10"]) == 2  # fmt: skip
    assert "data.max_length" in capsys.readouterr().err
    assert main(["train", "handwriting", "--config", TINY, *run,
                 "--set", "model.conv_pools=[[2, 2]]"]) == 2  # fmt: skip
    assert "model.conv_pools" in capsys.readouterr().err
    assert main(["train", "handwriting", "--config", TINY, *run,
                 "--set", "data.source=mnist_lines"]) == 2  # fmt: skip
    assert "data.path" in capsys.readouterr().err
