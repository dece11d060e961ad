"""Data sources of the handwriting app: named loaders that return text-line splits.

A config names its source (`data.source: digits_lines`, `data.source: iam` plus
`data.path`) and the app calls it through the registry::

    from lstmsuite.apps.handwriting.data import SOURCES

    splits = SOURCES.get("folder")("my_scans/")
    splits["train"].transcriptions()[:2]     # ["hello", "world"]
    splits.info["skipped"]                   # [("scan7.png", "cannot identify ...")]

Every loader has the signature `(path: str | None = None, **options)` and returns a
`LineSplits`: a dict mapping "train", "valid" and "test" to a split object with
`dataset()` (a tf.data.Dataset of `(image (h, w) float32, text)`, ink bright on a
dark background, images decoded or generated inside tf.data), `transcriptions()`
(None where lines are generated on the fly) and `charset()`. An unknown option is a
TypeError naming it; an empty split is a ValueError naming the source and split.

Sources:

* `digits_lines` (the embedded default, no download): lines of 1 to 10 digits drawn
  from scikit-learn's 1797 handwritten digits (`load_digits`, UCI), split 70/10/20
  by image, so no digit image of the test lines was seen in training. Options:
  `train_lines` (new lines per epoch, default 20000), `passes` (how many times the
  validation/test images are drawn, each time in new lines; default 3), `seed`,
  `style` (see `synth.LineStyle`).
* `mnist_lines`: the same from `mnist.npz` (`path`); training lines from the first
  images of `x_train`, validation lines from its last `valid_images` (default
  6000), test lines from `x_test` (each test digit once, `passes: 1`). Options as
  for `digits_lines` (`train_lines` default 40000) plus `valid_images`.
* `iam`: the IAM Handwriting Database as distributed: `path` holds `words.txt` or
  `lines.txt` (directly or under `ascii/`) and the image trees `words/a01/a01-000u/
  a01-000u-00-00.png` or `lines/a01/a01-000u/a01-000u-00.png`. Option `level`:
  `words` (default) or `lines`. Entries whose segmentation is marked `err` are
  skipped (counted in `info["err_entries"]`). The official split files
  (`trainset.txt`, `validationset1.txt`, `validationset2.txt`, `testset.txt`, line
  ids one a line) are used when found in `path`, `path/splits` or the `splits`
  option; otherwise forms are split 80/10/10 by the MD5 of their id.
* `folder`: images anywhere under `path` listed in `path/labels.tsv`, one line
  `relative/path.png<TAB>transcription[<TAB>train|valid|test]`; without the third
  column a line is split 80/10/10 by the MD5 of its path.

An image that is missing or unreadable (not PNG, JPEG, BMP or GIF, or corrupt) is
skipped with a warning and listed in `info["skipped"]`; it never stops the run.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from lstmsuite.apps.handwriting.synth import (
    LineStyle,
    SyntheticLines,
    digits_glyphs,
)
from lstmsuite.pipelines.mnist import read_mnist
from lstmsuite.pipelines.registry import Registry
from lstmsuite.pipelines.sources import (
    SPLITS,
    Splits,
    md5_split,
    require_dir,
    require_file,
    require_path,
)

SOURCES = Registry("handwriting data source")

#: Formats both PIL (the check) and tf.io.decode_image (the pipeline) read.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF")

#: Individual warnings for skipped images; beyond this, one summary line.
_MAX_WARNINGS = 10


class LineSplits(Splits):
    """`{"train": split, "valid": split, "test": split}` plus an `info` summary
    (`source`, `lines` per split, `skipped` as `(name, reason)` pairs, and what the
    source adds)."""


@dataclass
class ImageFiles:
    """A split of image files with their transcriptions (`names` label them in
    messages: an IAM id, a relative path)."""

    paths: list[str]
    texts: list[str]
    names: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def transcriptions(self) -> list[str]:
        return list(self.texts)

    def charset(self) -> set[str]:
        return set().union(*map(set, self.texts)) if self.texts else set()

    def without(self, positions: Sequence[int]) -> ImageFiles:
        drop = set(positions)
        keep = [i for i in range(len(self)) if i not in drop]
        return ImageFiles(
            [self.paths[i] for i in keep],
            [self.texts[i] for i in keep],
            [self.names[i] for i in keep],
        )

    def dataset(self) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(
            (tf.constant(self.paths, tf.string), tf.constant(self.texts, tf.string))
        )
        # The files were checked (`check_image`) when the split was made, so a
        # decoding error here means a file changed on disk: TF's error names it.
        return ds.map(
            lambda path, text: (read_image(path), text),
            num_parallel_calls=tf.data.AUTOTUNE,
        )


def read_image(path) -> tf.Tensor:
    """An image file -> (h, w) float32 in [0, 1], ink bright on dark.

    Scans are dark ink on white paper: an image whose mean is above 0.5 is
    inverted, so that zero (the padding value) is always background.
    """
    data = tf.io.read_file(path)
    image = tf.io.decode_image(
        data, channels=1, dtype=tf.float32, expand_animations=False
    )
    image = image[..., 0]
    return tf.cond(tf.reduce_mean(image) > 0.5, lambda: 1.0 - image, lambda: image)


def check_image(path: str | Path) -> str | None:
    """Why an image file cannot be used, or None when it can. Reads and verifies
    the whole file (PNG chunk checksums included) without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            fmt = image.format
            image.verify()
    except FileNotFoundError:
        return "no such file"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return f"unreadable image ({str(e) or type(e).__name__})"
    if fmt not in IMAGE_FORMATS:
        return f"{fmt} images are not supported (use {', '.join(IMAGE_FORMATS)})"
    return None


def usable_images(
    source: str, paths: Sequence[str], names: Sequence[str], skipped: list
) -> list[bool]:
    """Checks every image (in threads: the work is file reading); warns about and
    records in `skipped` each bad one. Returns a keep-flag per path."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        reasons = list(pool.map(check_image, paths))
    keep = []
    for name, reason in zip(names, reasons):
        keep.append(reason is None)
        if reason is not None:
            if len(skipped) < _MAX_WARNINGS:
                warnings.warn(f"{source}: skipped {name}: {reason}", stacklevel=3)
            skipped.append((str(name), reason))
    if len(skipped) > _MAX_WARNINGS:
        warnings.warn(
            f"{source}: {len(skipped)} unreadable images skipped in all "
            f"(see info['skipped'])",
            stacklevel=3,
        )
    return keep


def split_of(key: str) -> str:
    """Deterministic 80/10/10 split by the MD5 of a name."""
    return md5_split(key)


def _make_splits(source: str, splits: dict[str, Any], **info) -> LineSplits:
    for split in SPLITS:
        if len(splits.get(split) or ()) == 0:
            raise ValueError(f"{source}: no {split} lines")
    info = {"source": source, "lines": {k: len(v) for k, v in splits.items()}, **info}
    info.setdefault("skipped", [])
    return LineSplits(splits, info)


def _file_splits(
    source: str, rows: list[tuple[str, str, str, str]], **info
) -> LineSplits:
    """rows of (path, text, name, split) -> checked ImageFiles splits."""
    skipped: list[tuple[str, str]] = []
    keep = usable_images(source, [r[0] for r in rows], [r[2] for r in rows], skipped)
    grouped: dict[str, ImageFiles] = {s: ImageFiles([], [], []) for s in SPLITS}
    for (path, text, name, split), ok in zip(rows, keep):
        if ok:
            files = grouped[split]
            files.paths.append(path)
            files.texts.append(text)
            files.names.append(name)
    return _make_splits(source, grouped, skipped=skipped, **info)


# ------------------------------------------------------------------ synthetic digits


@SOURCES.register("digits_lines")
def digits_lines(
    path: str | None = None,
    train_lines: int = 20000,
    passes: int = 3,
    seed: int = 0,
    style: dict | None = None,
) -> LineSplits:
    """Digit lines from scikit-learn's digits; `path` is not used."""
    glyphs, labels = digits_glyphs()
    order = np.random.default_rng(seed).permutation(len(glyphs))
    cut = np.cumsum([int(0.7 * len(order)), int(0.1 * len(order))])
    parts = dict(zip(SPLITS, np.split(order, cut)))
    line_style = LineStyle.from_options(style)
    splits = {
        split: SyntheticLines(
            glyphs[idx],
            labels[idx],
            lines=train_lines if split == "train" else None,
            fixed=split != "train",
            passes=1 if split == "train" else passes,
            seed=seed + 1 + i,
            style=line_style,
        )
        for i, (split, idx) in enumerate(parts.items())
    }
    images = {k: len(v) for k, v in parts.items()}
    return _make_splits("digits_lines", splits, digit_images=images)


@SOURCES.register("mnist_lines")
def mnist_lines(
    path: str | None = None,
    train_lines: int = 40000,
    valid_images: int = 6000,
    passes: int = 1,
    seed: int = 0,
    style: dict | None = None,
) -> LineSplits:
    """Digit lines from mnist.npz: train/valid from x_train, test from x_test."""
    require_path(path, "mnist_lines", "e.g. ../shared/data/mnist/mnist.npz")
    banks = read_mnist(path)
    x_train, y_train = banks["train"]
    cut = len(x_train) - valid_images
    if not 0 < cut < len(x_train):
        raise ValueError(
            f"mnist_lines: valid_images={valid_images} must be between 1 and "
            f"{len(x_train) - 1}"
        )
    line_style = LineStyle.from_options(style)
    make = functools.partial(SyntheticLines, style=line_style)
    splits = {
        "train": make(x_train[:cut], y_train[:cut], lines=train_lines, fixed=False,
                      seed=seed + 1),
        "valid": make(x_train[cut:], y_train[cut:], passes=passes, seed=seed + 2),
        "test": make(*banks["test"], passes=passes, seed=seed + 3),
    }  # fmt: skip
    images = {"train": cut, "valid": valid_images, "test": len(banks["test"][0])}
    return _make_splits("mnist_lines", splits, digit_images=images)


# ------------------------------------------------------------------------------- IAM

_IAM_SPLIT_FILES = {
    "train": ("trainset.txt",),
    "valid": ("validationset1.txt", "validationset2.txt"),
    "test": ("testset.txt",),
}


@SOURCES.register("iam")
def iam(
    path: str | None = None, level: str = "words", splits: str | None = None
) -> LineSplits:
    """The IAM database layout (see the module docstring)."""
    if level not in ("words", "lines"):
        raise ValueError(f"iam: level must be 'words' or 'lines', got {level!r}")
    root = require_dir(path, "iam", "the folder of the IAM database")
    truth = next(
        (
            p
            for p in (root / f"{level}.txt", root / "ascii" / f"{level}.txt")
            if p.is_file()
        ),
        None,
    )
    if truth is None:
        raise FileNotFoundError(
            f"{root}: no {level}.txt (looked in {root} and {root / 'ascii'})"
        )
    entries, errors = parse_iam(truth, level)
    split_sets = _iam_split_sets(root, splits)
    rows, unassigned = [], 0
    for entry_id, text in entries:
        parts = entry_id.split("-")
        form, line = "-".join(parts[:2]), "-".join(parts[:3])
        if split_sets:
            split = next((s for s, ids in split_sets.items() if line in ids), None)
            if split is None:
                unassigned += 1
                continue
        else:
            split = split_of(form)
        image = root / level / parts[0] / form / f"{entry_id}.png"
        rows.append((str(image), text, entry_id, split))
    return _file_splits(
        f"iam {level} ({root})",
        rows,
        err_entries=errors,
        unassigned=unassigned,
        official_splits=bool(split_sets),
    )


def parse_iam(path: Path, level: str) -> tuple[list[tuple[str, str]], int]:
    """(id, transcription) of every `ok` entry of words.txt / lines.txt, and the
    number of `err` entries skipped.

    words.txt: `a01-000u-00-00 ok 154 408 768 27 51 AT A` (the transcription is the
    last field); lines.txt: `a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to`
    (the ninth field onwards, words separated by `|`).
    """
    entries, errors = [], 0
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split(" ", 8)
        if len(fields) < 9 or fields[1] not in ("ok", "err"):
            raise ValueError(
                f"{path}:{number}: expected an IAM {level} entry "
                f"('ID ok|err ... TRANSCRIPTION'), got {raw[:80]!r}"
            )
        if fields[1] == "err":
            errors += 1
            continue
        transcription = raw.split(" ")[-1] if level == "words" else fields[8]
        entries.append((fields[0], transcription.replace("|", " ")))
    return entries, errors


def _iam_split_sets(root: Path, splits: str | None) -> dict[str, set[str]]:
    folders = [Path(splits)] if splits else [root, root / "splits"]
    for folder in folders:
        if (folder / "trainset.txt").is_file():
            sets = {}
            for split, names in _IAM_SPLIT_FILES.items():
                ids: set[str] = set()
                for name in names:
                    if (folder / name).is_file():
                        ids |= set((folder / name).read_text().split())
                sets[split] = ids
            return sets
    if splits:
        raise FileNotFoundError(f"{splits}: no trainset.txt (the IAM split files)")
    return {}


# ---------------------------------------------------------------------------- folder


@SOURCES.register("folder")
def folder(path: str | None = None, labels: str = "labels.tsv") -> LineSplits:
    """Images listed in `path/labels.tsv` (see the module docstring)."""
    root = require_dir(path, "folder", f"a folder with {labels}")
    table = require_file(root / labels, "folder", f"{labels} file")
    rows = []
    lines = table.read_text(encoding="utf-8").splitlines()
    for number, raw in enumerate(lines, 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split("\t")
        if len(fields) not in (2, 3) or not fields[0]:
            raise ValueError(
                f"{table}:{number}: expected 'relative/path.png<TAB>transcription"
                f"[<TAB>train|valid|test]', got {raw[:80]!r}"
            )
        relative, text = fields[0], fields[1]
        split = fields[2].strip() if len(fields) == 3 else split_of(relative)
        if split not in SPLITS:
            raise ValueError(
                f"{table}:{number}: split must be train, valid or test, got {split!r}"
            )
        rows.append((str(root / relative), text, relative, split))
    return _file_splits(f"folder ({root})", rows)
