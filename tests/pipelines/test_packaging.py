"""The built wheel: one top-level package, `lstmsuite`, that works on its own.

The wheel is built once per session from a copy of the sources (so that a stale
`build/` folder in the checkout cannot leak removed modules into it) and installed
with `--no-deps` into a fresh virtual environment that borrows this environment's
packages (TensorFlow and the rest) through a `.pth` line. Its commands then run
from an empty folder, where neither the checkout nor its editable install is seen.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("apps", "layers", "pipelines", "configs", "setup.cfg", "pyproject.toml")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in (*SOURCES, "README.md"):
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "README.md")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: build with this environment's setuptools, offline.
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
    command += ["--no-build-isolation", "-w", str(out), str(source)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    (path,) = out.glob("lstmsuite-*.whl")
    return path


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel; the rest comes from this environment."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True
    )
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Plain path lines: this environment's packages are importable, but its own .pth
    # files (among them the editable install of the checkout) are not processed.
    borrowed = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    Path(purelib, "borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    install += ["--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, text=True)
    return root


def run_in(venv: Path, folder: Path, *command: str, timeout=600):
    # A user's terminal: none of the test session's TensorFlow settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    result = subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_wheel_has_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"lstmsuite", f"{wheel.name.split('-py3')[0]}.dist-info"}
    # Every app package and every shipped config is in it (setup.cfg lists them).
    for folder in (ROOT / "apps").iterdir():
        if (folder / "app.py").exists():
            assert f"lstmsuite/apps/{folder.name}/app.py" in names
    for config in (ROOT / "configs").glob("*/*.yaml"):
        assert f"lstmsuite/{config.relative_to(ROOT).as_posix()}" in names
    for module in (ROOT / "layers").glob("*.py"):
        assert f"lstmsuite/layers/{module.name}" in names


def test_wheel_entry_points_name_every_app(wheel):
    (entry_points,) = [
        n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt")
    ]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for folder in (ROOT / "apps").iterdir():
        if (folder / "app.py").exists():
            assert f"{folder.name} = lstmsuite.apps.{folder.name}.app:" in text
    assert "lstmsuite = lstmsuite.pipelines.cli:main" in text


def test_installed_wheel_works_outside_the_repository(venv, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    where = run_in(
        venv,
        empty,
        "python",
        "-c",
        "import lstmsuite.layers; from lstmsuite.layers import LSTM; "
        "from lstmsuite.pipelines.config import find_config; "
        "print(lstmsuite.layers.__file__); print(find_config('music/bach'))",
    ).stdout
    layers_file, bach = where.split()
    assert Path(layers_file).is_relative_to(venv), layers_file
    assert Path(bach).is_relative_to(venv) and Path(bach).name == "bach.yaml"

    listing = run_in(venv, empty, "lstmsuite", "apps").stdout
    assert [line.split()[0] for line in listing.splitlines()] == [
        "captioning",
        "handwriting",
        "long_range",
        "music",
        "speech",
        "text",
        "translation",
    ]
    # The text app's embedded corpus is package data of the wheel.
    chars = run_in(
        venv,
        empty,
        "python",
        "-c",
        "from lstmsuite.apps.text.data import load_shakespeare; "
        "print(sum(map(len, load_shakespeare().values())))",
    ).stdout
    assert chars.split() == ["1115394"]

    # The demo with its shipped config (a handful of chorales, to stay quick).
    demo = run_in(
        venv,
        empty,
        "lstmsuite",
        "demo",
        "music",
        "--set",
        "data.options.limit=6",
    )
    # Without --verbose, none of TensorFlow's log lines reach the terminal, and
    # the first epoch does not warn that the data ran out.
    noise = re.compile(r"^[IWE]\d{4} |absl::InitializeLog|ran out of data", re.M)
    assert not noise.search(demo.stderr), demo.stderr[-2000:]
    run = empty / "runs" / "music" / "demo"
    assert "units: 16" in (run / "config.yaml").read_text()  # tiny.yaml's
    assert (run / "checkpoints" / "best.keras").exists()
    assert list((run / "generated").glob("*.mid"))
