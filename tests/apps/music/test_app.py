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

    for name in ("tiny", "bach", "jsb"):
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
    run = ["--run-dir", str(tmp_path), *data_args(mat_file)]
    assert main(["train", "music", "--config", TINY, *run]) == 0
    assert (tmp_path / "checkpoints" / "best.keras").exists()
    capsys.readouterr()

    assert main(["evaluate", "music", *run]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    scores = json.loads(lines[-1])
    assert lines[0].split() == ["metric", "value"]
    assert 0 < scores["nll"] < 88 and scores["pieces"] == 3
    assert {"precision", "recall", "f1"} <= scores.keys()

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
