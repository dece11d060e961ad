"""Data sources of the translation application: named loaders of sentence pairs.

    from lstmsuite.apps.translation.data import SOURCES

    pairs = SOURCES.get("tsv")("../shared/data/anki/fra.txt")
    pairs["test"].sources[0], pairs["test"].targets[0]   # "Go.", "Va !"
    pairs.info                                           # counts per split

Every loader has the signature `(path: str | None = None, **options)` and returns a
`PairSplits`: a dict mapping "train", "valid" and "test" to `Pairs` (two aligned
lists of raw strings, source and target), with an `info` dict. An unknown option is
a TypeError naming it, a missing file a FileNotFoundError naming it, and a source
that yields no pairs a ValueError.

A pair whose source or target is empty (or only spaces) is skipped, never trained
on: `tsv` and `parallel_text` count such pairs in `info["skipped_empty"]` and warn
once per load with the count and the first line numbers.

Sources:

* `tsv`: sentence pairs as published for Anki by manythings.org (Tatoeba):
  `source<TAB>target[<TAB>attribution]`, UTF-8, one pair a line; the attribution
  column is ignored, blank lines are skipped, a line with an empty source or target
  is skipped and counted (above), a line without a tab is an error naming the file
  and line. Option `reverse: true` translates from the second column to the first.
  The split is the rule of `../shared/data/README.md`, on the *first* column
  whatever the direction: md5(first) % 20 == 0 is test, == 1 is
  validation, else training, so every translation of one sentence stays in one split
  and a reversed run is tested on the same pairs.
* `parallel_text`: two line-aligned plain-text files, options `source` and `target`
  (paths, relative to `path` when it is given). Split by the same md5 rule on the
  source line, unless `valid_source`/`valid_target` and `test_source`/`test_target`
  name separate files. A line empty in both files is a blank line, skipped; a line
  empty in only one of them is skipped and counted (above).
* `tfds`: a TensorFlow Datasets translation builder (`name`, e.g.
  `ted_hrlr_translate/pt_to_en` or `wmt14_translate/fr-en`) already prepared under
  `path` (its `data_dir`); `source_language`/`target_language` pick the features
  (default: the builder's supervised keys), `limit` caps the pairs per split. It
  never downloads: unprepared data is a FileNotFoundError that says how to prepare
  it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from lstmsuite.pipelines.registry import Registry
from lstmsuite.pipelines.sources import SPLITS, Splits, md5_split, require_file

SOURCES = Registry("translation data source")


@dataclass
class Pairs:
    """Aligned source and target sentences of one split."""

    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    def append(self, source: str, target: str) -> None:
        self.sources.append(source)
        self.targets.append(target)


class PairSplits(Splits):
    """{"train": Pairs, "valid": Pairs, "test": Pairs} plus an `info` dict (with
    `pairs`, the count per split)."""

    def __init__(self, splits: dict[str, Pairs], info: dict | None = None):
        super().__init__(
            splits, {"pairs": {k: len(v) for k, v in splits.items()}, **(info or {})}
        )


def split_of(key: str) -> str:
    """The split of a pair whose splitting sentence (the English side of the Anki
    file) is `key`: the rule of ../shared/data/README.md."""
    return md5_split(key, buckets=20)


def _finish(splits: dict[str, Pairs], where: str, info=None) -> PairSplits:
    if not any(len(p) for p in splits.values()):
        raise ValueError(f"{where}: no sentence pairs found")
    return PairSplits({s: splits.get(s, Pairs()) for s in SPLITS}, info)


#: Line numbers shown in the warning about pairs with an empty side.
_FIRST_LINES = 5


def _warn_empty(skipped: list[tuple[str, list[int]]]) -> int:
    """One warning for all the pairs with an empty side of a load (`skipped`: where
    -> their line numbers), naming the first lines; returns how many there were."""
    total = sum(len(numbers) for _, numbers in skipped)
    if not total:
        return 0
    shown, places = 0, []
    for where, numbers in skipped:
        first = numbers[: _FIRST_LINES - shown]
        if not first:
            continue
        shown += len(first)
        more = ", ..." if len(first) < len(numbers) else ""
        plural = "s" if len(numbers) > 1 else ""
        places.append(f"{where} line{plural} {', '.join(map(str, first))}{more}")
    if shown < total and not places[-1].endswith("..."):
        places[-1] += ", ..."
    warnings.warn(
        f"skipped {total} pairs with an empty source or target: {'; '.join(places)}",
        stacklevel=3,
    )
    return total


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


# ------------------------------------------------------------------------------ tsv


@SOURCES.register("tsv")
def load_tsv(path: str | None = None, *, reverse: bool = False) -> PairSplits:
    """Anki/manythings `source<TAB>target[<TAB>attribution]` file."""
    file = require_file(path, "tsv")
    splits = {s: Pairs() for s in SPLITS}
    empty: list[int] = []
    for number, line in enumerate(_read_lines(file), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise ValueError(
                f"{file}:{number}: expected source<TAB>target, found no tab: "
                f"{line[:60]!r}"
            )
        first, second = columns[0].strip(), columns[1].strip()
        if not first or not second:
            empty.append(number)
            continue
        pair = (second, first) if reverse else (first, second)
        splits[split_of(first)].append(*pair)
    skipped = _warn_empty([(str(file), empty)])
    return _finish(splits, str(file), {"reverse": reverse, "skipped_empty": skipped})


# -------------------------------------------------------------------- parallel_text


@SOURCES.register("parallel_text")
def load_parallel_text(
    path: str | None = None,
    *,
    source: str,
    target: str,
    valid_source: str | None = None,
    valid_target: str | None = None,
    test_source: str | None = None,
    test_target: str | None = None,
) -> PairSplits:
    """Two line-aligned files (and optionally separate validation/test files)."""
    base = Path(path) if path else Path(".")
    empty: list[tuple[str, list[int]]] = []

    def read_pair(src: str, tgt: str) -> Pairs:
        src_file = require_file(base / src, "parallel_text")
        tgt_file = require_file(base / tgt, "parallel_text")
        src_lines, tgt_lines = _read_lines(src_file), _read_lines(tgt_file)
        if len(src_lines) != len(tgt_lines):
            raise ValueError(
                f"{src_file} has {len(src_lines)} lines but {tgt_file} has "
                f"{len(tgt_lines)}; the files must be line-aligned"
            )
        pairs, skipped = Pairs(), []
        for number, (s, t) in enumerate(zip(src_lines, tgt_lines), start=1):
            s, t = s.strip(), t.strip()
            if s and t:
                pairs.append(s, t)
            elif s or t:
                skipped.append(number)
        empty.append((f"{src_file} + {tgt_file}", skipped))
        return pairs

    explicit = {
        "valid": (valid_source, valid_target),
        "test": (test_source, test_target),
    }
    for split, (s, t) in explicit.items():
        if (s is None) != (t is None):
            raise TypeError(f"give both {split}_source and {split}_target, or neither")
    main = read_pair(source, target)
    if all(s is not None for s, _ in explicit.values()):
        splits = {"train": main}
        splits.update({k: read_pair(s, t) for k, (s, t) in explicit.items()})
    else:
        splits = {s: Pairs() for s in SPLITS}
        for s, t in zip(main.sources, main.targets):
            splits[split_of(s)].append(s, t)
        for split, (s, t) in explicit.items():
            if s is not None:
                splits[split] = read_pair(s, t)
    skipped = _warn_empty(empty)
    return _finish(
        splits, f"{base / source} + {base / target}", {"skipped_empty": skipped}
    )


# ----------------------------------------------------------------------------- tfds

TFDS_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


@SOURCES.register("tfds")
def load_tfds(
    path: str | None = None,
    *,
    name: str,
    source_language: str | None = None,
    target_language: str | None = None,
    limit: int | None = None,
) -> PairSplits:
    """A prepared TFDS translation dataset under `path` (its data_dir)."""
    import tensorflow_datasets as tfds

    data_dir = str(Path(path).expanduser()) if path else None
    prepare = (
        f"prepare it once with `tfds build {name}"
        + (f" --data_dir {data_dir}`" if data_dir else "`")
        + " (or tfds.builder(name, data_dir=...).download_and_prepare()), then "
        "set data.path to that data_dir"
    )
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # noqa: BLE001 -- tfds raises many types for a bad name
        raise ValueError(
            f"data.options.name: unknown TFDS dataset {name!r}: {e}"
        ) from None
    if not builder.is_prepared():
        where = data_dir or "the default TFDS data_dir"
        raise FileNotFoundError(
            f"TFDS dataset {name} is not prepared in {where}; {prepare}. "
            "lstmsuite never downloads data itself."
        )
    keys = builder.info.supervised_keys or (None, None)
    src_key, tgt_key = source_language or keys[0], target_language or keys[1]
    splits: dict[str, Pairs] = {}
    for ours, theirs in TFDS_SPLITS.items():
        if theirs not in builder.info.splits:
            continue
        ds = tfds.load(name, split=theirs, data_dir=data_dir, download=False)
        if limit:
            ds = ds.take(limit)
        pairs = Pairs()
        for example in ds.batch(4096).as_numpy_iterator():
            for s, t in zip(example[src_key], example[tgt_key]):
                pairs.append(s.decode("utf-8").strip(), t.decode("utf-8").strip())
        splits[ours] = pairs
    return _finish(splits, f"TFDS {name}", {"tfds": name})
