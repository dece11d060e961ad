"""Data sources of the music application: named loaders that return piano rolls.

A config names its source (`data.source: music21_bach`, `data.source: mat` plus
`data.path`) and the pipeline calls it through the registry::

    from lstmsuite.apps.music.data import SOURCES

    splits = SOURCES.get("mat")("../shared/data/poly_music/JSB_Chorales.mat")
    splits["train"][0].shape            # (T, 88), float32 in {0, 1}
    splits.info["pieces"]               # {"train": 229, "valid": 76, "test": 77}

Every loader has the signature `(path: str | None = None, **options)` and returns a
`RollSplits`: a plain `dict` mapping "train", "valid" and "test" to lists of (T, 88)
float32 piano rolls (column 0 = MIDI 21, one row per quarter note, the layout of
`../shared/data/README.md`), with an `info` attribute summarising what was read and
skipped. An unknown option is a TypeError naming it; an empty dataset is a ValueError.

Sources:

* `music21_bach` (the embedded default, needs no download): the 409 Bach chorale
  scores of music21's corpus, four vocal parts merged and sampled on every quarter
  note like the JSB benchmark: 322/45/42 pieces, 18007/2262/2674 frames. The first
  run parses them (10-25 s on 2 cores, with a progress bar) and caches an `.npz`;
  later runs load it in under a second. `path` overrides the cache folder (default
  `$LSTMSUITE_CACHE`, else `~/.cache/lstmsuite`). Options: `limit` (parse only the
  first N scores, for tests), `workers` (parser processes; default one per core
  when there is enough work), `refresh` (ignore the cache), `verbose`.
* `mat`: the polyphonic benchmark `.mat` files (JSB Chorales, Nottingham, MuseData,
  Piano-midi.de) with keys `traindata`, `validdata`, `testdata`. A `.pickle`/`.pkl`
  path is handed to the `pickle` source, so one config key covers both formats.
* `pickle`: the original Boulanger-Lewandowski `.pickle` files, read with a
  restricted unpickler that builds only lists, dicts, tuples, numbers and strings.
* `midi_dir`: every `.mid`/`.midi` file under a folder; unreadable files are skipped
  with a warning and counted, never stopping the run.

Splits of `music21_bach` and `midi_dir` are by hash of the work name / relative file
path (80/10/10), so they never change when scores are added, removed or reordered,
and all versions of one chorale land in the same split.
"""

from __future__ import annotations

import io
import itertools
import json
import multiprocessing
import os
import pickle
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lstmsuite.apps.music.midi import (
    HIGHEST_PITCH,
    LOWEST_PITCH,
    NUM_KEYS,
    midi_to_roll,
    notes_to_roll,
)
from lstmsuite.pipelines.registry import Registry
from lstmsuite.pipelines.sources import (
    SPLITS,
    Splits,
    cache_dir,
    md5_split,
    require_dir,
    require_file,
)

SOURCES = Registry("music data source")


#: Bumped whenever the cached arrays would come out differently, so an old cache
#: is rebuilt rather than silently reused.
CACHE_FORMAT = 4

#: Scores in music21's "bach" folder that are not chorales.
_NOT_CHORALES = frozenset({"bwv846"})  # a Well-Tempered Clavier prelude

#: Part names of the four voices ("Soprano 1", "Bass\rContinuo" included).
_VOCAL_PART = re.compile(r"\s*(soprano|alto|tenor|bass)", re.IGNORECASE)

#: Longest rest kept inside a chorale, in frames (a 4/4 bar); see squeeze_silence.
_MAX_REST_FRAMES = 4

#: Below this many scores, starting worker processes costs more than it saves.
_MIN_SCORES_PER_WORKER = 16


class RollSplits(Splits):
    """`{"train": [...], "valid": [...], "test": [...]}` of (T, 88) rolls, plus an
    `info` summary: `source` (a label), `pieces` and `frames` (per split), `names`
    (per split, piece names in order, where the source has them), `skipped`
    (`(name, reason)` pairs), `dropped_notes` (outside MIDI 21..108);
    `music21_bach` adds `cache` and `from_cache`."""


def split_of(key: str) -> str:
    """Deterministic 80/10/10 split of a work or file by the MD5 of its name."""
    return md5_split(key)


# --------------------------------------------------------------------------------
# music21_bach
# --------------------------------------------------------------------------------


def bach_scores() -> list[Path]:
    """The chorale files of music21's corpus, one per score version, sorted by name.

    The corpus also holds Roman-numeral analyses (`.rntxt`, no notes) and a few
    chorales twice (`.krn` beside `.mxl`); those duplicates are dropped, preferring
    MusicXML.
    """
    from music21 import corpus

    preference = {".mxl": 0, ".xml": 1, ".krn": 2}
    chosen: dict[str, Path] = {}
    for path in corpus.getComposer("bach"):
        path = Path(path)
        if path.suffix not in preference or path.stem in _NOT_CHORALES:
            continue
        current = chosen.get(path.stem)
        if current is None or preference[path.suffix] < preference[current.suffix]:
            chosen[path.stem] = path
    return [chosen[stem] for stem in sorted(chosen)]


def work_of(score_name: str) -> str:
    """The work a score file belongs to: `bwv248.23-2` and `bwv248.23-s` -> `bwv248.23`.

    Suffixes after the BWV number mark alternative versions of one chorale, which
    must share a split so that no test chorale is also seen in training.
    """
    match = re.match(r"bwv\d+(\.\d+)?", score_name)
    return match.group(0) if match else score_name


def score_to_roll(path: str | os.PathLike) -> np.ndarray:
    """Parses one score with music21 and returns its (T, 88) quarter-note roll.

    The vocal parts (soprano, alto, tenor, bass) are merged; frame `k` holds every
    note sounding at quarter note `k` (see `notes_to_roll`). About 45 of the scores
    also carry instrumental parts (horns, trumpets, timpani, strings, continuo);
    those are left out so that every roll is four-part writing, as in the JSB
    Chorales benchmark, rather than up to 15 parts in a few cantata movements.
    A score with no part named like a voice keeps all its parts.
    """
    from music21 import converter

    # forceSource/storePickle: music21 would otherwise write its own pickle of every
    # score into a temp folder; our .npz cache makes that redundant.
    score = converter.parseFile(path, forceSource=True, storePickle=False)
    parts = list(score.parts) or [score]
    vocal = [part for part in parts if _VOCAL_PART.match(part.partName or "")]
    starts: list[float] = []
    ends: list[float] = []
    pitches: list[int] = []
    for part in vocal or parts:
        for element in part.flatten().notes:
            length = float(element.duration.quarterLength)
            offset = float(element.offset)
            for pitch in getattr(element, "pitches", ()):
                starts.append(offset)
                ends.append(offset + length)
                pitches.append(pitch.midi)
    pitch_array = np.asarray(pitches, dtype=np.int64)
    in_range = (pitch_array >= LOWEST_PITCH) & (pitch_array <= HIGHEST_PITCH)
    roll = notes_to_roll(
        np.asarray(starts)[in_range], np.asarray(ends)[in_range], pitch_array[in_range]
    )
    roll = squeeze_silence(roll, _MAX_REST_FRAMES)
    if roll.shape[0] == 0:
        raise ValueError("the score has no notes")
    return roll


def squeeze_silence(roll: np.ndarray, max_rest: int) -> np.ndarray:
    """Drops leading and trailing silence and shortens longer rests to `max_rest`.

    Leaving out the instruments of a cantata movement leaves the voices silent
    through its interludes (168 of 229 frames in bwv248.64-6); those stretches
    would only teach a model to wait. Breath rests of a frame or two are kept.
    """
    silent = ~roll.any(axis=1)
    if silent.all():
        return roll[:0]
    index = np.arange(len(roll))
    # For each frame, the index of the last sounding frame at or before it; the
    # distance to it is the position of a silent frame inside its rest.
    last_sound = np.maximum.accumulate(np.where(silent, -1, index))
    keep = ~silent | (index - last_sound <= max_rest)
    keep &= last_sound >= 0  # leading silence
    keep[index > np.flatnonzero(~silent)[-1]] = False  # trailing silence
    return roll[keep]


def _parse_score(path: Path) -> tuple[str, np.ndarray | None, str | None]:
    """Worker: `(name, roll, None)` or `(name, None, error)`; never raises.

    Top-level so that spawned worker processes can import it.
    """
    try:
        return path.stem, score_to_roll(path), None
    except Exception as error:  # any parser failure only skips a score
        return path.stem, None, f"{type(error).__name__}: {error}"


def _parse_all(
    paths: list[Path], workers: int, verbose: bool
) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """Parses scores in order, in `workers` processes, with a progress bar.

    Measured on a shared 2-core machine: all 409 scores in 10-23 s with 2 workers
    and 16-21 s in-process; the gain depends on how idle the cores are.
    """
    bar = _progress(len(paths), "Parsing Bach chorales", "score", verbose)
    done = 0
    try:
        if workers > 1 and _main_is_importable():
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures.process import BrokenProcessPool

            # "spawn", not the Linux default "fork": the caller has usually imported
            # TensorFlow, whose threads make a forked child liable to deadlock.
            context = multiprocessing.get_context("spawn")
            try:
                with ProcessPoolExecutor(workers, mp_context=context) as pool:
                    for result in pool.map(_parse_score, paths, chunksize=4):
                        yield result
                        done += 1
                        bar.update(1)
            except BrokenProcessPool as error:
                # A spawned worker re-imports the caller's main script; one without
                # an `if __name__ == "__main__":` guard kills it. Slower, not fatal.
                warnings.warn(
                    f"music21_bach: worker processes failed ({error}); "
                    "parsing the rest in this process",
                    stacklevel=3,
                )
        for path in paths[done:]:
            yield _parse_score(path)
            bar.update(1)
    finally:
        bar.close()


def _main_is_importable() -> bool:
    """Whether spawned workers can re-import `__main__` (not so for `python - <x`)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or Path(main_file).exists()


@SOURCES.register("music21_bach")
def load_music21_bach(
    path: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    workers: int | None = None,
    refresh: bool = False,
    verbose: bool = True,
) -> RollSplits:
    """The Bach chorales of music21's corpus as piano rolls, parsed once then cached.

    Args:
        path: the cache folder (default: `sources.cache_dir()`).
        limit: parse only the first `limit` scores in name order (quick tests).
        workers: parser processes; default one per CPU core when there are enough
            scores to be worth starting them, `1` parses in this process.
        refresh: parse again even when a cache exists.
        verbose: show a progress bar and print a one-line summary to stderr.
    """
    import music21

    scores = bach_scores()
    if limit is not None:
        if limit < 1:
            raise ValueError(f"music21_bach: limit must be at least 1; got {limit}.")
        scores = scores[:limit]
    names = [p.stem for p in scores]
    cache_folder = Path(path).expanduser() if path else cache_dir()
    cache_key = {
        "format": CACHE_FORMAT,
        "music21": music21.__version__,
        "scores": names,
    }
    # The file name distinguishes the common variants; the key stored inside guards
    # against everything else (a corpus update, a different limit's score list).
    tag = "all" if limit is None else f"limit{limit}"
    cache_file = cache_folder / f"music21_bach-v{CACHE_FORMAT}-{tag}.npz"

    if not refresh:
        cached = _read_cache(cache_file, cache_key)
        if cached is not None:
            cached.info["cache"] = str(cache_file)
            _report(cached, verbose)
            return cached

    if workers is None:
        workers = max(
            1, min(os.cpu_count() or 1, len(scores) // _MIN_SCORES_PER_WORKER)
        )
    splits: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    split_names: dict[str, list[str]] = {name: [] for name in SPLITS}
    skipped: list[tuple[str, str]] = []
    for name, roll, error in _parse_all(scores, workers, verbose):
        if roll is None:
            warnings.warn(f"music21_bach: skipped {name}: {error}", stacklevel=2)
            skipped.append((name, str(error)))
            continue
        split = split_of(work_of(name))
        splits[split].append(roll)
        split_names[split].append(name)
    result = _make_splits("music21_bach", splits, split_names, skipped)
    result.info.update(cache=str(cache_file), from_cache=False)
    _write_cache(cache_file, cache_key, result)
    _report(result, verbose)
    return result


def _write_cache(cache_file: Path, key: dict[str, Any], data: RollSplits) -> None:
    """Saves the rolls as one `.npz` (no pickled objects), atomically."""
    rolls = [roll for split in SPLITS for roll in data[split]]
    arrays = {
        "key": np.array(json.dumps(key, sort_keys=True)),
        "frames": np.concatenate(rolls).astype(np.uint8)
        if rolls
        else np.zeros((0, NUM_KEYS), np.uint8),
        "lengths": np.array([len(r) for r in rolls], dtype=np.int64),
        "split": np.array([s for s in SPLITS for _ in data[s]], dtype=str),
        "names": np.array(
            [n for s in SPLITS for n in data.info["names"][s]], dtype=str
        ),
        "skipped": np.array(json.dumps(data.info["skipped"])),
    }
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary name then rename: a run killed mid-write must not
        # leave a truncated file that the next run would trust.
        temporary = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(temporary, cache_file)
    except OSError as error:
        # A read-only home folder must not stop training; it only costs a re-parse.
        warnings.warn(
            f"music21_bach: could not write cache {cache_file}: {error}", stacklevel=3
        )


def _read_cache(cache_file: Path, key: dict[str, Any]) -> RollSplits | None:
    """The cached splits, or None if absent, stale or unreadable."""
    if not cache_file.exists():
        return None
    try:
        # allow_pickle=False: a cache file is data, never code.
        with np.load(cache_file, allow_pickle=False) as archive:
            if json.loads(str(archive["key"])) != json.loads(json.dumps(key)):
                return None
            frames = archive["frames"].astype(np.float32)
            lengths = archive["lengths"]
            split_of_piece = archive["split"].tolist()
            names = archive["names"].tolist()
            skipped = [tuple(item) for item in json.loads(str(archive["skipped"]))]
    except Exception as error:  # a damaged cache is simply rebuilt
        warnings.warn(
            f"music21_bach: ignoring unreadable cache {cache_file}: {error}",
            stacklevel=3,
        )
        return None
    rolls = np.split(frames, np.cumsum(lengths)[:-1]) if len(lengths) else []
    splits: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    split_names: dict[str, list[str]] = {name: [] for name in SPLITS}
    for roll, split, name in zip(rolls, split_of_piece, names):
        splits[split].append(roll)
        split_names[split].append(name)
    result = _make_splits("music21_bach", splits, split_names, skipped)
    result.info["from_cache"] = True
    return result


# --------------------------------------------------------------------------------
# mat and pickle
# --------------------------------------------------------------------------------

_MAT_KEYS = {"train": "traindata", "valid": "validdata", "test": "testdata"}


@SOURCES.register("mat")
def load_mat(
    path: str | os.PathLike | None = None, *, verbose: bool = True
) -> RollSplits:
    """A polyphonic benchmark `.mat` file (keys `traindata`, `validdata`, `testdata`).

    Each key holds an object array of (T, 88) binary rolls. A `.pickle`/`.pkl` path
    is read by `load_pickle` instead.
    """
    file = require_file(path, "mat")
    if file.suffix.lower() in (".pickle", ".pkl"):
        return load_pickle(file, verbose=verbose)
    import scipy.io

    try:
        contents = scipy.io.loadmat(str(file))
    except Exception as error:  # scipy raises many types for bad files
        raise ValueError(f"{file}: not a readable .mat file ({error})") from error
    splits: dict[str, list[np.ndarray]] = {}
    for split, key in _MAT_KEYS.items():
        if key not in contents:
            found = sorted(k for k in contents if not k.startswith("__"))
            raise ValueError(
                f"{file}: missing key {key!r} (the {split} split); "
                f"expected {sorted(_MAT_KEYS.values())}, found {found}."
            )
        splits[split] = [
            _as_roll(piece, f"{file}: {key}[{index}]")
            for index, piece in enumerate(_mat_pieces(contents[key]))
        ]
    result = _make_splits(f"mat ({file.name})", splits)
    _report(result, verbose)
    return result


def _mat_pieces(value: np.ndarray) -> list[np.ndarray]:
    """The pieces under one `.mat` key, whatever shape MATLAB/savemat gave them.

    A cell array loads as an object array of shape (1, N); pieces of equal length
    saved from a list come back as one numeric (N, T, 88) array instead.
    """
    if value.dtype == object:
        return list(value.ravel())
    if value.ndim == 3:
        return list(value)
    return [value]


def _as_roll(piece: Any, where: str) -> np.ndarray:
    """Checks a loaded piece is a (T, 88) binary array; returns it as float32."""
    array = np.asarray(piece)
    if array.ndim != 2 or array.shape[1] != NUM_KEYS:
        raise ValueError(
            f"{where}: expected a piano roll of shape (T, {NUM_KEYS}), "
            f"got {array.shape}."
        )
    roll = array.astype(np.float32)
    if not np.isin(roll, (0.0, 1.0)).all():
        raise ValueError(f"{where}: a piano roll must hold only 0 and 1.")
    return roll


class _DisallowedObjectError(pickle.UnpicklingError):
    """Raised for any global a pickle asks for; told apart from corrupt input."""


class _PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that can build only built-in containers, numbers and strings.

    Lists, dicts, tuples, sets, ints, floats, strings and bytes have their own pickle
    opcodes; everything else (classes, functions such as `os.system`, NumPy arrays)
    must be looked up with `find_class`, so refusing every lookup makes loading a
    hostile file harmless.
    """

    def find_class(self, module: str, name: str) -> Any:
        raise _DisallowedObjectError(f"disallowed object {module}.{name}")


def restricted_pickle_load(file: str | os.PathLike) -> Any:
    """Unpickles `file` allowing only plain data, else a ValueError naming the file."""
    with open(file, "rb") as handle:
        data = handle.read()
    try:
        # latin1 lets Python 2 pickles (the original files) decode their str objects.
        return _PlainDataUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _DisallowedObjectError as error:
        raise ValueError(
            f"{file}: refused to load: the pickle contains disallowed objects "
            f"({error}); only lists, dicts, tuples, numbers and strings are accepted."
        ) from error
    except Exception as error:  # truncated or garbled input
        raise ValueError(f"{file}: not a readable pickle file ({error}).") from error


@SOURCES.register("pickle")
def load_pickle(
    path: str | os.PathLike | None = None, *, verbose: bool = True
) -> RollSplits:
    """An original Boulanger-Lewandowski `.pickle` file, read safely.

    The file holds `{"train": [...], "valid": [...], "test": [...]}`; each piece is a
    list of frames, each frame a list of the MIDI numbers sounding. Notes outside
    21..108 are dropped and counted in `info["dropped_notes"]`.
    """
    file = require_file(path, "pickle")
    contents = restricted_pickle_load(file)
    if not isinstance(contents, dict):
        raise ValueError(
            f"{file}: expected a dict with keys {list(SPLITS)}, "
            f"got {type(contents).__name__}."
        )
    splits: dict[str, list[np.ndarray]] = {}
    dropped = 0
    for split in SPLITS:
        if split not in contents:
            raise ValueError(
                f"{file}: missing key {split!r}; found {sorted(map(str, contents))}."
            )
        pieces = contents[split]
        if not isinstance(pieces, list | tuple):
            raise ValueError(f"{file}: {split!r} must be a list of pieces.")
        splits[split] = []
        for index, piece in enumerate(pieces):
            roll, piece_dropped = _frames_to_roll(piece, f"{file}: {split}[{index}]")
            splits[split].append(roll)
            dropped += piece_dropped
    result = _make_splits(f"pickle ({file.name})", splits)
    result.info["dropped_notes"] = dropped
    _report(result, verbose)
    return result


def _frames_to_roll(piece: Any, where: str) -> tuple[np.ndarray, int]:
    """`[[60, 64], [], [62], ...]` -> ((T, 88) roll, notes out of range)."""
    try:
        frames = [list(frame) for frame in piece]
        lengths = np.fromiter(map(len, frames), dtype=np.int64, count=len(frames))
        notes = np.fromiter(itertools.chain.from_iterable(frames), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: expected a list of frames, each a list of MIDI note numbers "
            f"({error})."
        ) from error
    notes = np.rint(notes).astype(np.int64)
    times = np.repeat(np.arange(len(frames)), lengths)
    in_range = (notes >= LOWEST_PITCH) & (notes <= HIGHEST_PITCH)
    roll = np.zeros((len(frames), NUM_KEYS), dtype=np.float32)
    roll[times[in_range], notes[in_range] - LOWEST_PITCH] = 1.0
    return roll, int((~in_range).sum())


# --------------------------------------------------------------------------------
# midi_dir
# --------------------------------------------------------------------------------


@SOURCES.register("midi_dir")
def load_midi_dir(
    path: str | os.PathLike | None = None, *, verbose: bool = True
) -> RollSplits:
    """Every `.mid`/`.midi` file under a folder (recursively) as a piano roll.

    Files are read with pretty_midi onto their own quarter-note grid. A file that
    cannot be read, or holds no pitched notes, is skipped with a warning and listed
    in `info["skipped"]`; it never stops the run. The split is by the MD5 of the
    path relative to the folder, so it survives moving the folder.
    """
    folder = require_dir(path, "midi_dir")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in (".mid", ".midi") and p.is_file()
    )
    if not files:
        raise ValueError(f"midi_dir: no .mid or .midi files under {folder}.")
    splits: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    split_names: dict[str, list[str]] = {name: [] for name in SPLITS}
    skipped: list[tuple[str, str]] = []
    dropped = 0
    bar = _progress(len(files), "Reading MIDI files", "file", verbose)
    for file in files:
        relative = file.relative_to(folder).as_posix()
        try:
            roll, file_dropped = midi_to_roll(file)
            if roll.shape[0] == 0:
                raise ValueError("no pitched notes")
        except Exception as error:  # any bad file is only skipped
            reason = f"{type(error).__name__}: {error}"
            warnings.warn(f"midi_dir: skipped {relative}: {reason}", stacklevel=2)
            skipped.append((relative, reason))
        else:
            split = split_of(relative)
            splits[split].append(roll)
            split_names[split].append(relative)
            dropped += file_dropped
        bar.update(1)
    bar.close()
    result = _make_splits(f"midi_dir ({folder})", splits, split_names, skipped)
    result.info["dropped_notes"] = dropped
    _report(result, verbose)
    return result


# --------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------


def _make_splits(
    source: str,
    splits: dict[str, list[np.ndarray]],
    names: dict[str, list[str]] | None = None,
    skipped: list[tuple[str, str]] | None = None,
) -> RollSplits:
    """Wraps the splits with their summary; an empty dataset is an error."""
    skipped = list(skipped or [])
    if not any(splits[split] for split in SPLITS):
        detail = f" ({len(skipped)} skipped as unreadable)" if skipped else ""
        raise ValueError(f"{source}: the dataset is empty{detail}.")
    info = {
        "source": source,
        "pieces": {split: len(splits[split]) for split in SPLITS},
        "frames": {split: int(sum(len(r) for r in splits[split])) for split in SPLITS},
        "names": names or {split: [] for split in SPLITS},
        "skipped": skipped,
        "dropped_notes": 0,
    }
    return RollSplits({split: splits[split] for split in SPLITS}, info)


def _report(data: RollSplits, verbose: bool) -> None:
    """Prints the one-line summary users see after loading."""
    if not verbose:
        return
    info = data.info
    pieces = "/".join(str(info["pieces"][s]) for s in SPLITS)
    frames = "/".join(str(info["frames"][s]) for s in SPLITS)
    line = f"{info['source']}: {pieces} pieces, {frames} frames (train/valid/test)"
    if info.get("from_cache"):
        line += f", from cache {info['cache']}"
    if info["skipped"]:
        line += f"; {len(info['skipped'])} skipped as unreadable"
    if info["dropped_notes"]:
        line += f"; {info['dropped_notes']} notes outside MIDI 21..108 dropped"
    print(line, file=sys.stderr)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, description: str, unit: str, verbose: bool) -> Any:
    """A tqdm bar on stderr, or a silent stand-in when quiet or tqdm is missing."""
    if not verbose:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr)


__all__ = [
    "SOURCES",
    "SPLITS",
    "RollSplits",
    "bach_scores",
    "load_mat",
    "load_midi_dir",
    "load_music21_bach",
    "load_pickle",
    "restricted_pickle_load",
    "score_to_roll",
    "split_of",
    "squeeze_silence",
    "work_of",
]
