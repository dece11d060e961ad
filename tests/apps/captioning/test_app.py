"""The captioning app end to end through the CLI: a tiny training run whose loss
falls, evaluate, save/load and predict on an image file (with attention maps),
the Flickr8k config on a fixture folder in that layout, and cached features."""

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import load_config
from tests.apps.captioning.test_data import make_flickr8k

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs" / "captioning"
TINY = str(CONFIGS / "tiny.yaml")


def test_shipped_configs_load():
    from lstmsuite.apps.captioning.config import CaptionConfig

    for name in ("tiny", "shapes", "flickr8k"):
        cfg = load_config(CaptionConfig, CONFIGS / f"{name}.yaml", app="captioning")
        assert cfg.app == "captioning" and cfg.model.units > 0
    cfg = load_config(CaptionConfig, CONFIGS / "flickr8k.yaml")
    assert cfg.data.source == "flickr8k" and cfg.encoder.weights is None


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tiny_run")
    args = ["train", "captioning", "--config", TINY, "--run-dir", str(run_dir)]
    assert main([*args, "--set", "training.epochs=3"]) == 0
    return run_dir


def test_tiny_training_loss_falls(tiny_run):
    with open(tiny_run / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2]
    assert losses[-1] < 0.9 * losses[0]
    assert (tiny_run / "checkpoints" / "best.keras").exists()
    assert json.loads((tiny_run / "vocab.json").read_text())["vocabulary"][3] == "<end>"


def test_evaluate_reports_bleu_and_cider_for_greedy_and_beam(tiny_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", "captioning", "--run-dir", str(tiny_run)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    scores = json.loads(lines[-1])
    assert lines[0].split() == ["metric", "value"]
    for strategy in ("greedy", "beam"):
        for key in ("bleu1", "bleu2", "bleu3", "bleu4", "cider_d"):
            assert 0.0 <= scores[f"{strategy}_{key}"] <= 10.0
    assert scores["images"] == 16 and scores["references"] == 48
    table = (tiny_run / "captions-test.tsv").read_text().splitlines()
    assert table[0] == "image\tgreedy\tbeam\treference" and len(table) == 17


def test_save_load_and_predict_on_image_files(tiny_run, tmp_path, capsys):
    from PIL import Image

    from lstmsuite.apps.captioning.shapes import draw_scene, random_scene

    rng = np.random.default_rng(5)
    paths = []
    for k in range(2):
        pixels = draw_scene(random_scene(rng), rng, 48)  # any size: it is resized
        paths.append(tmp_path / f"scene{k}.png")
        Image.fromarray(pixels).save(paths[-1])
    capsys.readouterr()
    args = ["predict", "captioning", "--run-dir", str(tiny_run), *map(str, paths)]
    assert main([*args, "--attention-png"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == list(map(str, paths))
    vocabulary = set(json.loads((tiny_run / "vocab.json").read_text())["vocabulary"])
    assert all(set(line.split("\t")[1].split()) <= vocabulary for line in lines)
    pngs = sorted((tiny_run / "attention").glob("*.png"))
    assert [p.name for p in pngs] == ["scene0.attention.png", "scene1.attention.png"]
    assert all(p.stat().st_size > 1000 for p in pngs) and "attention map" in out.err

    # the same saved model and vocabulary give the same captions again (greedy too)
    assert main([*args]) == 0
    assert capsys.readouterr().out.strip().splitlines() == lines
    assert main([*args, "--set", "decode.strategy=greedy"]) == 0
    assert main([*args[:4], str(tmp_path / "missing.png")]) == 2
    assert "missing.png: image file not found" in capsys.readouterr().err


def test_flickr8k_config_trains_and_evaluates_a_flickr8k_folder(tmp_path, capsys):
    """configs/captioning/flickr8k.yaml given --set data.path, on a fixture folder in
    the Flickr8k layout (with a missing image). To stay in the CI budget: small
    images, one epoch, and a small CNN and decoder instead of MobileNetV3Small (whose
    compile alone takes a minute on 2 busy cores; test_encoder.py covers it)."""
    data = make_flickr8k(tmp_path / "Flickr8k")
    run = ["--run-dir", str(tmp_path / "run"), "--set", f"data.path={data}"]
    quick = [
        "--set", "data.image_size=32", "--set", "training.epochs=1",
        "--set", "data.min_word_count=1", "--set", "runtime.verbose=0",
        "--set", "encoder.name=small_cnn", "--set", "encoder.filters=[8]",
        "--set", "model.units=16", "--set", "model.embedding_dim=8",
        "--set", "model.feature_units=8", "--set", "model.attention_units=8",
    ]  # fmt: skip
    config = ["--config", str(CONFIGS / "flickr8k.yaml")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing image's warning
        assert main(["train", "captioning", *config, *run, *quick]) == 0
        capsys.readouterr()
        assert main(["evaluate", "captioning", *run]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["images"] == 2 and scores["references"] == 4
    assert "beam_bleu4" in scores and "greedy_cider_d" in scores


def test_frozen_encoder_with_cached_features(tmp_path, capsys):
    cache = tmp_path / "features"
    run = ["--run-dir", str(tmp_path / "run")]
    sets = [
        "--set", "encoder.trainable=false", "--set", "data.cache_features=true",
        "--set", f"data.feature_cache_dir={cache}",
    ]  # fmt: skip
    assert main(["train", "captioning", "--config", TINY, *run, *sets]) == 0
    assert len(list(cache.glob("*.npy"))) == 2  # train and valid
    assert (tmp_path / "run" / "encoder.keras").exists()
    capsys.readouterr()
    greedy = ["--set", "decode.evaluate=[greedy]"]
    assert main(["evaluate", "captioning", *run, *greedy]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "greedy_bleu4" in scores and "beam_bleu4" not in scores

    # a trainable encoder cannot have cached features
    bad = ["--set", "data.cache_features=true"]
    other = ["--run-dir", str(tmp_path / "b")]
    assert main(["train", "captioning", "--config", TINY, *other, *bad]) == 2
    assert "encoder.trainable: false" in capsys.readouterr().err


def test_show_and_tell_has_no_attention_maps(tmp_path, capsys):
    run = ["--run-dir", str(tmp_path / "run")]
    sets = ["--set", "model.decoder=show_and_tell", "--set", "model.num_layers=2"]
    assert main(["train", "captioning", "--config", TINY, *run, *sets]) == 0
    from PIL import Image

    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "x.png")
    capsys.readouterr()
    predict = ["predict", "captioning", *run, str(tmp_path / "x.png")]
    assert main(predict) == 0
    assert main([*predict, "--attention-png"]) == 2
    assert "show_and_tell" in capsys.readouterr().err
