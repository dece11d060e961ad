"""The `lstmsuite` entry point: listing, dispatch and one-line errors."""

import json

from lstmsuite.pipelines.cli import main
from lstmsuite.pipelines.registry import BENCHMARKS


def test_apps_lists_music(capsys):
    assert main(["apps"]) == 0
    assert "music" in capsys.readouterr().out


def test_config_error_is_one_line_with_a_suggestion(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("app: toy\nmodel:\n  unitz: 3\n")
    assert main(["train", "toy", "--config", str(bad), "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("lstmsuite: error:") and "Did you mean model.units?" in err
    assert str(bad) in err


def test_unknown_app_and_missing_run(tmp_path, capsys):
    assert main(["train", "musik"]) == 2
    assert "Did you mean 'music'?" in capsys.readouterr().err
    assert main(["evaluate", "toy", "--run-dir", str(tmp_path / "none")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_bench_dispatches_by_name(capsys):
    seen = []

    @BENCHMARKS.register("fake_bench_for_test")
    def fake(argv):
        seen.append(argv)
        return 5

    assert main(["bench", "fake_bench_for_test", "--x", "1"]) == 5
    assert seen == [["--x", "1"]]
    assert main(["bench", "nosuchbench"]) == 2
    assert "Unknown benchmark" in capsys.readouterr().err


def test_train_then_evaluate_prints_table_then_json(tmp_path, capsys):
    run = ["--run-dir", str(tmp_path), "--set", "runtime.verbose=0"]
    assert main(["train", "toy", *run]) == 0
    capsys.readouterr()
    assert main(["evaluate", "toy", *run]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert json.loads(lines[-1]) == {"loss": 0.5, "count": 3}
    assert json.loads((tmp_path / "evaluation.json").read_text())["count"] == 3
