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


def test_an_app_from_another_distribution_is_found_by_its_entry_point(
    tmp_path, monkeypatch, capsys
):
    # A distribution that is not this one: its metadata names an app in the
    # `lstmsuite.apps` group, and its module subclasses the contract's App.
    dist = tmp_path / "toyplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toyplugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[lstmsuite.apps]\nplugged = toyplugin_app:PluggedApp\n"
    )
    (tmp_path / "toyplugin_app.py").write_text(
        '"""A toy app shipped by another package."""\n'
        "from dataclasses import dataclass\n\n"
        "from tests.pipelines.toy_app import ToyApp, ToyConfig\n\n\n"
        "@dataclass(kw_only=True)\n"
        "class PluggedConfig(ToyConfig):\n"
        '    app: str = "plugged"\n\n\n'
        "class PluggedApp(ToyApp):\n"
        '    """A toy app shipped by another package."""\n\n'
        "    config_class = PluggedConfig\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    assert main(["apps"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "plugged        A toy app shipped by another package." in listing
    assert {"music", "translation", "captioning", "handwriting"} <= {
        line.split()[0] for line in listing
    }

    run = ["--run-dir", str(tmp_path / "run"), "--set", "runtime.verbose=0"]
    assert main(["train", "plugged", *run]) == 0
    assert (tmp_path / "run" / "checkpoints" / "best.keras").exists()


def test_pipelines_never_import_apps():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "pipelines"
    for module in root.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("lstmsuite.apps", "apps")), (module, name)


def test_help_names_what_each_command_does(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for line in (
        "train     train a model",
        "evaluate  score a trained run",
        "predict   run a trained model on inputs",
        "--verbose",
    ):
        assert line in text
    # The flags also work after the command.
    assert main(["apps", "--verbose"]) == 0
