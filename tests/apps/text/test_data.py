"""Text sources: the embedded Tiny Shakespeare and its split, files, folders, bad
bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstmsuite.apps.text.data import (
    TextDecodeError,
    load_shakespeare,
    load_text_dir,
    load_text_file,
)
from lstmsuite.pipelines.config import ConfigError

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "tiny_shakespeare"


def test_embedded_shakespeare_is_split_as_nanogpt():
    splits = load_shakespeare()
    text = splits["train"] + splits["valid"] + splits["test"]
    assert len(text) == 1_115_394
    assert len(splits["train"]) == int(len(text) * 0.9)  # nanoGPT's training split
    assert splits.info["nanogpt_val"] == text[int(len(text) * 0.9) :]
    assert abs(len(splits["valid"]) - len(splits["test"])) <= 1
    assert text.startswith("First Citizen:\nBefore we proceed any further")


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not here")
def test_embedded_copy_equals_the_shared_file():
    splits = load_shakespeare(SHARED / "input.txt")
    assert splits["test"] == load_shakespeare()["test"]


def test_another_text_is_not_taken_for_shakespeare(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("not shakespeare\n")
    with pytest.raises(ValueError, match="use data.source: text_file"):
        load_shakespeare(path)


def test_text_file_splits_by_position(tmp_path):
    path = tmp_path / "book.txt"
    text = "".join(f"line {i}\n" for i in range(1000))
    path.write_bytes(text.replace("\n", "\r\n").encode())
    splits = load_text_file(path, valid=0.1, test=0.05)
    assert splits["train"] + splits["valid"] + splits["test"] == text
    assert len(splits["valid"]) == pytest.approx(0.1 * len(text), abs=1)
    assert splits["test"].endswith("line 999\n")
    with pytest.raises(ConfigError, match="data.options.valid"):
        load_text_file(path, valid=0.7)


def test_bad_bytes_name_the_file_and_offset_or_are_replaced(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good text " * 20 + b"\xff\xfe then more" + b" text" * 50)
    with pytest.raises(
        TextDecodeError, match=r"bad.txt.*byte offset 200.*errors: replace"
    ):
        load_text_file(path)
    splits = load_text_file(path, errors="replace")
    assert "\ufffd" in "".join(splits.values())


def test_text_dir_splits_by_file(tmp_path):
    for i in range(40):
        sub = tmp_path / f"part{i % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"doc{i}.txt").write_text(f"document {i}\n" * 5)
    (tmp_path / "notes.md").write_text("ignored")
    splits = load_text_dir(tmp_path)
    files = splits.info["files"]
    assert sum(len(v) for v in files.values()) == 40
    assert not set(files["train"]) & (set(files["valid"]) | set(files["test"]))
    assert files["valid"] and files["test"]
    for name in files["test"]:
        assert (tmp_path / name).read_text() in splits["test"]
    assert "ignored" not in "".join(splits.values())


def test_text_dir_errors(tmp_path):
    with pytest.raises(ValueError, match="no .txt files"):
        load_text_dir(tmp_path)
    (tmp_path / "one.txt").write_text("only one file")
    with pytest.raises(ValueError, match="split"):
        load_text_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_text_dir(tmp_path / "missing")
