"""The translation app end to end on a tiny toy corpus: a training run whose loss
falls, save/load, raw-string translation (Python and SavedModel), evaluate, the CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import load_config
from tests.apps.translation.conftest import ROOT, TINY

SENTENCES = ["One two.", "Three four five.", "Zébulon 😀 ЖЖ?", ""]


def test_shipped_configs_load():
    from lstmsuite.apps.translation.app import TranslationConfig

    for path in sorted((ROOT / "configs" / "translation").glob("*.yaml")):
        cfg = load_config(TranslationConfig, path, app="translation")
        assert cfg.model.attention in ("luong", "bahdanau")


@pytest.fixture(scope="module")
def trained(numbers_tsv, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "tiny"
    code = main(
        [
            "train", "translation", "--config", TINY, "--run-dir", str(run_dir),
            "--set", f"data.path={numbers_tsv}",
            "--set", "training.epochs=4",
            "--set", "data.batch_size=16",
            "--set", "model.units=32",
            "--set", "model.embedding_dim=32",
        ]
    )  # fmt: skip
    assert code == 0
    return run_dir


def test_training_loss_falls_and_the_run_dir_is_complete(trained):
    with open(trained / "history.csv", newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    for name in ("config.yaml", "checkpoints/best.keras", "metrics.json"):
        assert (trained / name).exists()
    assert sorted(p.name for p in (trained / "tokenizer").iterdir()) == [
        "source-unigram-300.model",
        "target-unigram-300.model",
    ]


def test_saved_model_translates_raw_strings_after_load_model(trained):
    import keras

    import lstmsuite.apps.translation.model  # noqa: F401 -- registers the classes
    from lstmsuite.apps.translation.app import make_decoder
    from lstmsuite.pipelines.contract import load_run_config

    model = keras.models.load_model(
        trained / "checkpoints" / "best.keras", safe_mode=True, compile=False
    )
    greedy = model.translate(SENTENCES)
    assert len(greedy) == 4 and all(isinstance(s, str) for s in greedy)
    graph = [s.decode("utf-8") for s in model.translate_graph(SENTENCES).numpy()]
    assert graph == greedy  # in-graph greedy == shared Greedy strategy
    cfg = load_run_config(type(load_config_cls()), trained)
    beam = model.translate(SENTENCES, make_decoder(cfg.decode, "beam"))
    assert len(beam) == 4


def load_config_cls():
    from lstmsuite.apps.translation.app import TranslationConfig

    return TranslationConfig(data={"source": "tsv"})


def test_exported_saved_model_maps_strings_to_strings(trained, tmp_path):
    import tensorflow as tf

    from lstmsuite.apps.translation.app import load_translator
    from lstmsuite.apps.translation.model import export_saved_model

    model = load_translator(trained)
    path = export_saved_model(model, tmp_path / "savedmodel")
    served = tf.saved_model.load(path)
    out = served.translate(tf.constant(SENTENCES)).numpy()
    assert [s.decode("utf-8") for s in out] == model.translate(SENTENCES)


def test_evaluate_reports_bleu_chrf_and_draws_attention(trained, capsys):
    assert main(["evaluate", "translation", "--run-dir", str(trained)]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("bleu_greedy", "bleu_beam", "chrf_greedy", "chrf_beam"):
        assert 0.0 <= scores[key] <= 100.0
    assert scores["sentences"] > 0 and scores["references"] >= scores["sentences"]
    png = (trained / "attention.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    lines = (trained / "translations.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == scores["sentences"]


def test_predict_from_arguments_and_stdin(trained, capsys, monkeypatch):
    assert main(
        ["predict", "translation", "One two.", "Six.", "--run-dir", str(trained)]
    ) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("One two.\nSix.\n"))
    assert main(["predict", "translation", "--run-dir", str(trained)]) == 0
    assert capsys.readouterr().out.splitlines() == out


def test_bad_data_path_is_a_one_line_error(tmp_path, capsys):
    code = main(
        [
            "train", "translation", "--config", TINY,
            "--run-dir", str(tmp_path / "run"),
            "--set", f"data.path={tmp_path / 'missing.txt'}",
        ]
    )  # fmt: skip
    assert code == 2
    assert "missing.txt" in capsys.readouterr().err
