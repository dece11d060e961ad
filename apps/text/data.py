"""Where the text comes from: the data sources of `data.source`.

    data: {source: shakespeare}                       # embedded, no download
    data: {source: text_file, path: book.txt}         # one file, split by position
    data: {source: text_dir, path: corpus/}           # every .txt below, by file

Each returns `Splits` of three strings (train, valid, test).

* `shakespeare`: Tiny Shakespeare (Karpathy's char-rnn corpus, public domain,
  1,115,394 characters), shipped inside the package as `tiny_shakespeare.txt.xz`
  (356 KB) and checked against its SHA-256. nanoGPT trains on the first 90% and
  validates on the last 10%; we keep its training split and cut its validation
  split in two halves: `valid` (90-95%, which picks the best checkpoint) and
  `test` (95-100%). `evaluate` also reports the score on the whole last 10%
  (`nanogpt_val_nats_per_char`), the number nanoGPT's figures are comparable to.
* `text_file`: one file split by position, the first `1 - valid - test` for
  training, then validation, then test (options `valid`, `test`: fractions,
  default 0.05 each). Position, not random lines: a language model must not see
  the sentences around a test sentence in training.
* `text_dir`: every `*.txt` below a folder (sorted), each file in one split by the
  MD5 of its relative path (`lstmsuite.pipelines.sources.md5_split`; options
  `valid`, `test`: how many of 10 buckets, default 1 each). The files of a split
  are joined with a blank line.

Text is UTF-8. An invalid byte is an error naming the file and the byte's offset;
with `data.options.errors: replace` it becomes U+FFFD instead.
"""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

from lstmsuite.pipelines.config import ConfigError
from lstmsuite.pipelines.registry import Registry
from lstmsuite.pipelines.sources import Splits, md5_split, require_dir, require_file

SOURCES = Registry("text data source")

EMBEDDED = Path(__file__).resolve().parent / "tiny_shakespeare.txt.xz"
EMBEDDED_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
ERRORS = ("strict", "replace")


class TextDecodeError(ValueError):
    """A file that is not valid UTF-8; the message names the file and offset."""


def decode(data: bytes, name: str, errors: str = "strict") -> str:
    """`data` as UTF-8 text; with errors="strict" an invalid byte raises a
    `TextDecodeError` that says where it is and how to accept it."""
    if errors not in ERRORS:
        raise ConfigError(
            f"data.options.errors: expected one of {list(ERRORS)}, got {errors!r}"
        )
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        bad = data[e.start : e.end].hex(" ")
        raise TextDecodeError(
            f"{name}: not UTF-8 text: invalid byte(s) {bad} at byte offset {e.start} "
            f"({e.reason}); fix the file, or set data.options.errors: replace to "
            "read them as U+FFFD"
        ) from None


def read_text(path: Path, errors: str = "strict") -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FileNotFoundError(f"{path}: cannot be read ({e.strerror})") from None
    # Windows line ends become "\n": the model should not learn two of them.
    return decode(data, str(path), errors).replace("\r\n", "\n")


def position_split(text: str, valid: float, test: float, name: str) -> Splits:
    """Train, valid and test as consecutive parts of `text`."""
    for key, value in (("valid", valid), ("test", test)):
        if not 0 < value < 0.5:
            raise ConfigError(
                f"data.options.{key}: expected a fraction in (0, 0.5), got {value!r}"
            )
    n = len(text)
    a, b = round(n * (1 - valid - test)), round(n * (1 - test))
    splits = Splits(
        {"train": text[:a], "valid": text[a:b], "test": text[b:]},
        {"source": name, "characters": {"train": a, "valid": b - a, "test": n - b}},
    )
    return splits.require_all(name, "text (the file is too short)")


@SOURCES.register("shakespeare")
def load_shakespeare(path=None, *, errors: str = "strict") -> Splits:
    """The embedded Tiny Shakespeare; `data.path` may point to another copy of
    `input.txt` (it must be the same text: the split is nanoGPT's)."""
    if path:
        data = require_file(path, "shakespeare").read_bytes()
        name = str(path)
    else:
        data = lzma.decompress(EMBEDDED.read_bytes())
        name = "embedded Tiny Shakespeare"
    if hashlib.sha256(data).hexdigest() != EMBEDDED_SHA256:
        raise ValueError(
            f"{name}: not the Tiny Shakespeare text (SHA-256 differs); for another "
            "text use data.source: text_file"
        )
    text = decode(data, name, errors)
    n = len(text)
    a, b = int(n * 0.9), int(n * 0.95)  # nanoGPT: train = text[: int(n * 0.9)]
    return Splits(
        {"train": text[:a], "valid": text[a:b], "test": text[b:]},
        {
            "source": "shakespeare",
            "characters": {"train": a, "valid": b - a, "test": n - b},
            # nanoGPT's validation split, for the comparable figure.
            "nanogpt_val": text[a:],
        },
    )


@SOURCES.register("text_file")
def load_text_file(
    path=None, *, valid: float = 0.05, test: float = 0.05, errors: str = "strict"
) -> Splits:
    file = require_file(path, "text_file", "text file")
    return position_split(read_text(file, errors), valid, test, f"text_file {file}")


@SOURCES.register("text_dir")
def load_text_dir(
    path=None, *, valid: int = 1, test: int = 1, errors: str = "strict"
) -> Splits:
    folder = require_dir(path, "text_dir")
    files = sorted(p for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise ValueError(f"{folder}: text_dir: no .txt files below this folder")
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    names: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for file in files:
        rel = file.relative_to(folder).as_posix()
        split = md5_split(rel, valid=valid, test=test)
        parts[split].append(read_text(file, errors))
        names[split].append(rel)
    empty = [split for split in parts if not "".join(parts[split]).strip()]
    if empty:
        raise ValueError(
            f"{folder}: text_dir: no text in the {empty[0]} split ({len(files)} files "
            "split by the MD5 of their names, about 10% each to valid and test); add "
            "files, or use data.source: text_file on one file"
        )
    return Splits(
        {split: "\n\n".join(texts) for split, texts in parts.items()},
        {"source": f"text_dir {folder}", "files": names},
    )
