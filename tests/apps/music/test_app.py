"""The music app end to end on a tiny generated .mat file: train, evaluate, generate,
multi-worker training and distributed tuning (the last two in subprocesses)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.config import load_config

ROOT = Path(__file__).resolve().parents[3]
TINY = str(ROOT / "configs" / "music" / "tiny.yaml")


def _cells(rolls):
    cells = np.empty((len(rolls),), dtype=object)
    for i, roll in enumerate(rolls):
        cells[i] = roll
    return cells


@pytest.fixture(scope="module")
def mat_file(tmp_path_factory):
    """Random chorale-like rolls: 3-4 notes on per frame, held for a few frames."""
    rng = np.random.default_rng(0)

    def piece():
        frames = int(rng.integers(12, 30))
        roll = np.zeros((frames, 88), dtype=np.float64)
        for t in range(0, frames, 2):
            roll[t : t + 2, rng.choice(np.arange(30, 60), size=3, replace=False)] = 1
        return roll

    path = tmp_path_factory.mktemp("mat") / "tiny.mat"
    data = {"traindata": 8, "validdata": 3, "testdata": 3}
    scipy.io.savemat(
        path, {k: _cells([piece() for _ in range(n)]) for k, n in data.items()}
    )
    return path


def data_args(mat_file):
    return [
        "--set", "data.source=mat",
        "--set", f"data.path={mat_file}",
        "--set", "data.options={verbose: false}",
        "--set", "runtime.verbose=0",
    ]  # fmt: skip


def test_shipped_configs_load():
    from lstmsuite.apps.music.app import MusicConfig

    for name in ("tiny", "bach", "jsb", "jsb_nade"):
        cfg = load_config(MusicConfig, ROOT / "configs" / "music" / f"{name}.yaml")
        assert cfg.app == "music" and cfg.model.units > 0


def test_frame_nll_loss_is_the_jsb_nll():
    from lstmsuite.apps.music.model import FrameNLL
    from lstmsuite.pipelines.metrics import bernoulli_nll

    rng = np.random.default_rng(1)
    probs = rng.uniform(0.05, 0.95, (2, 5, 88)).astype("float32")
    targets = (rng.random((2, 5, 88)) < 0.1).astype("float32")
    weights = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype="float32")
    loss = float(FrameNLL()(targets, probs, sample_weight=weights))
    assert loss == pytest.approx(bernoulli_nll(probs, targets, weights), rel=1e-4)


def test_train_evaluate_generate(tmp_path, mat_file, capsys):
    bernoulli = ["--set", "model.output=bernoulli"]  # NADE: the test below
    run = ["--run-dir", str(tmp_path), *data_args(mat_file), *bernoulli]
    assert main(["train", "music", "--config", TINY, *run]) == 0
    assert (tmp_path / "checkpoints" / "best.keras").exists()
    capsys.readouterr()

    assert main(["evaluate", "music", *run]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    scores = json.loads(lines[-1])
    assert lines[0].split() == ["metric", "value"]
    assert 0 < scores["nll"] < 88 and scores["pieces"] == 3
    assert {"precision", "recall", "f1"} <= scores.keys()
    assert scores["output"] == "bernoulli"

    import pretty_midi

    out = tmp_path / "a.mid"
    gen = ["generate", "music", *run, "--set", "generate.seed=5"]
    assert main([*gen, "--output", str(out)]) == 0
    assert main([*gen, "--output", str(tmp_path / "b.mid")]) == 0
    assert out.read_bytes() == (tmp_path / "b.mid").read_bytes()  # same seed
    assert out.with_suffix(".png").stat().st_size > 0
    midi = pretty_midi.PrettyMIDI(str(out))
    assert midi.instruments and midi.get_end_time() > 0
    assert all(21 <= n.pitch <= 108 for n in midi.instruments[0].notes)

    silence = ["--set", "generate.primer=silence", "--set", "generate.seed=6"]
    assert main([*gen, *silence, "--output", str(tmp_path / "c.mid")]) == 0
    assert (tmp_path / "c.mid").read_bytes() != out.read_bytes()


def test_nade_output_trains_evaluates_generates_and_resumes(tmp_path, mat_file, capsys):
    from lstmsuite.apps.music.model import is_nade
    from lstmsuite.pipelines.contract import RunDir

    nade = [
        "--set", "model.output=nade", "--set", "model.nade_units=8",
        "--set", "data.augment.transpose=[-3, 3]",
    ]  # fmt: skip
    run = ["--run-dir", str(tmp_path), *data_args(mat_file), *nade]
    assert main(["train", "music", "--config", TINY, *run]) == 0
    assert is_nade(RunDir(tmp_path).load_model())
    capsys.readouterr()
    # The same command with one more epoch continues the run.
    more = ["--set", "training.epochs=2"]
    assert main(["train", "music", "--config", TINY, *run, *more]) == 0
    out = capsys.readouterr().out
    assert "Resuming" in out
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs_completed"] == 2

    assert main(["evaluate", "music", *run]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["output"] == "nade" and 0 < scores["nll"] < 88
    assert scores["pieces"] == 3 and 0 <= scores["f1"] <= 1

    gen = ["generate", "music", *run, "--set", "generate.seed=5"]
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    assert main([*gen, "--output", str(a)]) == 0
    assert main([*gen, "--output", str(b), "--set", "generate.top_k=3"]) == 0
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(a))
    assert midi.get_end_time() > 0
    from lstmsuite.apps.music.midi import midi_to_roll

    capped, _ = midi_to_roll(b)
    assert capped[4:].sum(axis=1).max() <= 3  # after the 4-frame primer

    capsys.readouterr()
    bench = ["bench", "chords", "--run-dir", str(tmp_path), "--pieces", "2"]
    assert main([*bench, "--frames", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| source |")
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert [row["source"] for row in rows][0] == "test set"
    assert rows[1]["frames"] == 2 * 5 and "nade" in rows[1]["source"]
    assert 0 <= rows[1]["triad_share"] <= 1


def test_the_two_outputs_score_in_one_convention(mat_file):
    """A NADE whose own weights are zero is the Bernoulli model: same NLL."""
    from lstmsuite.apps.music.app import MusicConfig, load_rolls, roll_pipeline
    from lstmsuite.apps.music.model import build_model
    from lstmsuite.pipelines.metrics import PianoRollScores

    items = [a for a in data_args(mat_file) if a != "--set"]
    bernoulli_cfg = load_config(MusicConfig, TINY, [*items, "model.output=bernoulli"])
    bernoulli = build_model(bernoulli_cfg.model)
    nade = [*items, "model.output=nade", "model.nade_units=4"]
    cfg = load_config(MusicConfig, TINY, nade)
    nade_model = build_model(cfg.model)
    nade_model.get_layer("recurrent").set_weights(
        bernoulli.get_layer("recurrent").get_weights()
    )
    kernel, bias = bernoulli.get_layer("next_frame").get_weights()
    layer = nade_model.get_layer("nade")
    layer.visible_bias_kernel.assign(kernel)
    layer.visible_bias.assign(bias)
    layer.input_kernel.assign(np.zeros_like(layer.input_kernel))
    layer.output_kernel.assign(np.zeros_like(layer.output_kernel))
    rolls = load_rolls(cfg.data)["test"]
    scores = {"bernoulli": PianoRollScores(), "nade": PianoRollScores()}
    for x, y, w in roll_pipeline(rolls, cfg, training=False):
        scores["nade"].update(nade_model.predict_on_batch(x), y.numpy(), w.numpy())
        probs = bernoulli.predict_on_batch(x["frames"])
        scores["bernoulli"].update(probs, y.numpy(), w.numpy())
    nll = {name: s.result()["nll"] for name, s in scores.items()}
    assert nll["nade"] == pytest.approx(nll["bernoulli"], rel=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstmp"])
def test_nade_output_on_a_deep_stack_of_any_cell(cell):
    from lstmsuite.apps.music.app import MusicConfig
    from lstmsuite.apps.music.model import FrameNLL, build_model

    items = [f"model.cell={cell}", "model.units=8", "model.num_layers=2"]
    items += ["model.residual=true", "model.nade_units=6"]
    if cell == "lstmp":
        items.append("model.cell_options={proj_units: 8}")
    cfg = load_config(MusicConfig, TINY, items)
    model = build_model(cfg.model, seed=3)
    model.compile(optimizer="adam", loss=FrameNLL())
    frames = (np.random.default_rng(0).random((2, 7, 88)) < 0.05).astype("float32")
    inputs = {"frames": frames[:, :-1], "next_frames": frames[:, 1:]}
    first = model.train_on_batch(inputs, frames[:, 1:])
    for _ in range(3):
        last = model.train_on_batch(inputs, frames[:, 1:])
    assert np.isfinite(first) and last < first


def test_bad_nade_and_augment_settings_are_config_errors():
    from lstmsuite.apps.music.app import MusicConfig
    from lstmsuite.pipelines.config import ConfigError

    for item, message in [
        ("model.output=made", "model.output"),
        ("model.nade_units=0", "model.nade_units"),
        ("data.augment.transpose=[2, 5]", "data.augment.transpose"),
        ("data.augment.transpose=[-2]", "data.augment.transpose"),
        ("data.augment.shift=3", "shift"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config(MusicConfig, TINY, [item])


# ------------------------------------------------------------------ subprocesses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")])
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    e.update(extra)
    return e


def start(args, tmp_path, name, **extra_env):
    log = open(tmp_path / f"{name}.log", "w")
    command = [sys.executable, "-m", "lstmsuite.pipelines.cli", *args]
    return subprocess.Popen(
        command, cwd=ROOT, env=env(**extra_env), stdout=log, stderr=subprocess.STDOUT
    )


def finish(processes, tmp_path, timeout=300):
    """Waits for all; kills every one still running when any fails or times out."""
    try:
        for name, process in processes.items():
            code = process.wait(timeout=timeout)
            log = (tmp_path / f"{name}.log").read_text()[-3000:]
            assert code == 0, f"{name} exited {code}:\n{log}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def test_multi_worker_training(tmp_path, mat_file):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run_dir = tmp_path / "run"
    args = ["train", "music", "--config", TINY, "--run-dir", str(run_dir)]
    args += [*data_args(mat_file), "--set", "runtime.strategy=multi_worker"]
    processes = {
        f"worker{i}": start(
            args,
            tmp_path,
            f"worker{i}",
            TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": i}}
            ),
        )
        for i in range(2)
    }
    finish(processes, tmp_path)
    assert (run_dir / "checkpoints" / "last.keras").exists()  # the chief's
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 1


def test_distributed_tuning(tmp_path, mat_file):
    run_dir = tmp_path / "tune"
    args = ["tune", "music", "--config", TINY, "--run-dir", str(run_dir)]
    args += [*data_args(mat_file)]
    args += ["--set", "tuning.space={units: [4, 8], learning_rate: [0.01, 0.003]}"]
    args += ["--set", "tuning.max_trials=2"]
    oracle = {
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(free_port()),
    }
    processes = {
        "chief": start(args, tmp_path, "chief", KERASTUNER_TUNER_ID="chief", **oracle)
    }
    for i in range(2):
        processes[f"tuner{i}"] = start(
            args, tmp_path, f"tuner{i}", KERASTUNER_TUNER_ID=f"tuner{i}", **oracle
        )
    finish(processes, tmp_path)

    started = [json.loads(line) for line in (run_dir / "trial_log.jsonl").open()]
    trial_ids = [entry["trial"] for entry in started]
    assert len(trial_ids) == 2 and len(set(trial_ids)) == 2  # each ran exactly once
    assert {entry["tuner"] for entry in started} <= {"tuner0", "tuner1"}

    summary = json.loads((run_dir / "tuning.json").read_text())
    assert len(summary["trials"]) == 2
    assert all("COMPLETED" in t["status"] for t in summary["trials"])
    scores = [t["score"] for t in summary["trials"]]
    assert summary["best_score"] == pytest.approx(min(scores))

    from lstmsuite.apps.music.app import MusicConfig

    best = load_config(MusicConfig, run_dir / "best.yaml")
    assert best.model.units == summary["best_values"]["model.units"]
    assert (
        best.training.learning_rate == summary["best_values"]["training.learning_rate"]
    )
