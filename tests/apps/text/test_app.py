"""The text app end to end on the tiny config: train, resume, evaluate, generate
(graph and host loops); bytes, subwords and the Transformer; config errors."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from lstmsuite.apps.text.app import TextConfig
from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs" / "text"
TINY = str(CONFIGS / "tiny.yaml")
QUIET = ["--set", "runtime.verbose=0"]


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_shipped_configs_load():
    for path in sorted(CONFIGS.glob("*.yaml")):
        cfg = load_config(TextConfig, path, app="text")
        assert cfg.app == "text" and cfg.model.units > 0


def test_tiny_run_trains_resumes_evaluates_and_generates(tmp_path, capsys):
    run = ["--run-dir", str(tmp_path / "run"), *QUIET]
    assert main(["train", "text", "--config", TINY, *run]) == 0
    capsys.readouterr()
    more = ["--set", "training.epochs=2"]
    assert main(["train", "text", "--config", TINY, *run, *more]) == 0
    assert "Resuming" in capsys.readouterr().out
    with open(tmp_path / "run" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and float(rows[1]["loss"]) < 4.2  # ln(66): uniform

    assert main(["evaluate", "text", *run]) == 0
    scores = last_json(capsys)
    for split in ("valid", "test"):
        nats = scores[f"{split}_nats_per_char"]
        assert 0 < nats < 4.2
        assert scores[f"{split}_bits_per_char"] == pytest.approx(nats / 0.6931, 1e-3)
    assert "nanogpt_val_nats_per_char" in scores

    texts = {}
    for loop in ("graph", "host"):
        out = tmp_path / f"{loop}.txt"
        options = [
            "--output", str(out), "--set", "generate.strategy=greedy",
            "--set", f"generate.loop={loop}", "--set", "generate.length=40",
        ]  # fmt: skip
        assert main(["generate", "text", *run, *options]) == 0
        printed = capsys.readouterr().out
        assert re.search(r"\d+ characters per second", printed)
        texts[loop] = out.read_text()
        assert texts[loop].startswith("ROMEO:") and len(texts[loop]) == 6 + 40 + 1
    assert texts["graph"] == texts["host"]  # greedy: the two loops agree

    sample = ["--set", "generate.top_p=0.9", "--set", "generate.samples=3",
              "--set", "generate.length=30"]  # fmt: skip
    outputs = []
    for _ in range(2):
        assert main(["generate", "text", *run, *sample]) == 0
        outputs.append((tmp_path / "run" / "generated" / "sample.txt").read_text())
    assert outputs[0] == outputs[1] and outputs[0].count("=== sample") == 3


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.tokenizer=byte"],
        ["data.tokenizer=subword", "data.vocab_size=400"],
        [
            "model.kind=transformer",
            "data.windows=random",
            "model.units=16",
            "model.num_heads=2",
        ],
        ["model.cell=mingru", "data.windows=random"],
    ],
    ids=["bytes", "subwords", "transformer", "mingru-random"],
)
def test_other_tokenizers_and_models(overrides, tmp_path, capsys):
    sets = [x for o in overrides for x in ("--set", o)]
    run = ["--run-dir", str(tmp_path / "run"), *QUIET]
    short = [
        "--set",
        "training.steps_per_epoch=5",
        "--set",
        "training.validation_steps=2",
    ]
    assert main(["train", "text", "--config", TINY, *run, *sets, *short]) == 0
    capsys.readouterr()
    assert main(["evaluate", "text", *run, "--set", "data.eval_streams=2"]) == 0
    scores = last_json(capsys)
    assert scores["test_nats_per_char"] > 0 and scores["test_tokens"] > 0
    assert main(["generate", "text", *run, "--set", "generate.length=20"]) == 0
    assert capsys.readouterr().out.startswith("ROMEO:")


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["model.kind=transformer"], "data.windows: a Transformer"),
        (["data.source=shakespear"], "data.source"),
        (["data.window=1"], "data.window"),
        (["data.tokenizer=words"], "data.tokenizer"),
        (["generate.samples=0"], "generate.samples"),
        (["data.max_length=50"], "data.max_length"),
    ],
)
def test_config_errors_name_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(TextConfig, TINY, overrides, app="text")
