"""The reliability sweep's check of a run directory (the sweep itself is a
benchmark command, `lstmsuite bench reliability`, not a test)."""

import json
import zipfile

from lstmsuite.pipelines import bench_reliability
from lstmsuite.pipelines.contract import RunDir
from lstmsuite.pipelines.registry import get_app
from tests.pipelines.test_training import toy


def test_check_run_dir_accepts_a_whole_run_and_names_each_defect(tmp_path, monkeypatch):
    calls = []

    def evaluate(command, env=None):
        calls.append(command)
        return type("Done", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(bench_reliability, "_lstmsuite", evaluate)
    app, cfg = toy("training.epochs=2")
    assert get_app("toy") is not None
    app.train(cfg, tmp_path)
    run = RunDir(tmp_path)
    assert bench_reliability.check_run_dir("toy", tmp_path, 2) == (True, "")
    assert calls == [["evaluate", "toy", "--run-dir", str(tmp_path)]]

    assert bench_reliability.check_run_dir("toy", tmp_path, 3)[1].startswith(
        "history.csv epochs [0, 1]"
    )
    history = run.history.read_text().splitlines()
    run.history.write_text("\n".join([*history, history[-1]]) + "\n")  # twice
    assert (
        "history.csv epochs [0, 1, 1]"
        in bench_reliability.check_run_dir("toy", tmp_path, 2)[1]
    )
    run.history.write_text("\n".join(history) + "\n")
    state = json.loads(run.state.read_text())
    run.state.write_text(json.dumps({**state, "epoch": 1}))
    assert bench_reliability.check_run_dir("toy", tmp_path, 2)[1] == (
        "state.json says epoch 1"
    )
    run.state.write_text(json.dumps(state))
    data = run.last.read_bytes()
    run.last.write_bytes(data[: len(data) // 3])
    assert "last.keras" in bench_reliability.check_run_dir("toy", tmp_path, 2)[1]
    assert not zipfile.is_zipfile(run.last)
