"""Data sources of the speech app: named loaders that return utterance splits.

    from lstmsuite.apps.speech.data import SOURCES

    splits = SOURCES.get("fsdd")("../shared/data/fsdd", split="speakers", rate=8000)
    splits["test"].texts[:3]          # ["0", "0", "0"]
    splits.info["skipped"]            # [("bad.wav", "empty file")]

Every loader has the signature `(path, *, rate, **options)` (`rate`: the config's
`data.sample_rate`, every waveform is resampled to it) and returns `Splits` of
`Utterances`: the decoded waveforms with their transcripts, speakers and names. An
unknown option is a TypeError naming it; an empty split is a ValueError naming the
source and split. Audio is decoded once, here (FSDD's 3,000 clips take about a
second); features are computed from the waveforms inside tf.data.

Sources:

* `fsdd`: the Free Spoken Digit Dataset as distributed (`path` holds `recordings/`
  with `DIGIT_SPEAKER_INDEX.wav`, 8 kHz mono; 6 speakers x 10 digits x 50). Option
  `split`:
  - `official` (default): the dataset's own test set, index 0-4 of every speaker
    and digit (300 clips); validation is index 5-9 (300), training the rest (2,400).
    The test speakers are heard in training.
  - `speakers`: whole speakers held out: `test_speakers` (default theo, yweweler)
    for test, `valid_speakers` (default lucas) for validation, the others train.
    With `valid_speakers: []` every other speaker trains, and validation is
    their recordings with index 5-9: the test voices are still never heard, but
    validation then watches heard voices.
* `folder`: audio files under `path` listed in `path/labels.tsv`, one line
  `relative/path.wav<TAB>transcript[<TAB>train|valid|test]`; without the third
  column a file is split 80/10/10 by the MD5 of its path. WAV at any rate, mono or
  stereo; FLAC and OGG with `soundfile`.
* `tfds`: TFDS `spoken_digit` (the FSDD recordings) from prepared data only
  (`path`: the TFDS data_dir, default TFDS's own); nothing is downloaded. It is
  split by file name exactly as `fsdd` (options `split`, `valid_speakers`,
  `test_speakers`).
* `tones`: synthetic tone patterns, one per digit, for the demo and the tests (no
  data, no download; not speech). Options `per_class`, `speakers`, `seed`.

A file that is missing, empty or not audio is skipped with a warning and listed in
`info["skipped"]`; it never stops the run.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmsuite.apps.speech.audio import EXTENSIONS, AudioError, read_audio, resample
from lstmsuite.pipelines.registry import Registry
from lstmsuite.pipelines.sources import SPLITS, Splits, md5_split, require_dir

SOURCES = Registry("speech data source")

#: Individual warnings for skipped files; beyond this, one summary line.
_MAX_WARNINGS = 10

#: FSDD's file names: DIGIT_SPEAKER_INDEX.wav
FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")
FSDD_TEST_INDEX = range(0, 5)  # the dataset's own test convention
FSDD_VALID_INDEX = range(5, 10)  # ours: the next five, for validation


@dataclass
class Utterances:
    """A split of decoded recordings: `audio[i]` (float32 samples at `rate`) says
    `texts[i]`; `speakers[i]` ("" when unknown) and `names[i]` (for messages)."""

    audio: list[np.ndarray] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    rate: int = 8000

    def __len__(self) -> int:
        return len(self.audio)

    def add(self, audio, text: str, speaker: str, name: str) -> None:
        self.audio.append(audio)
        self.texts.append(text)
        self.speakers.append(speaker)
        self.names.append(name)

    def transcriptions(self) -> list[str]:
        return list(self.texts)

    def seconds(self) -> float:
        return sum(len(a) for a in self.audio) / self.rate


def _split_files(items, source: str, rate: int, info: dict | None = None) -> Splits:
    """(split, path, text, speaker, name) items -> Splits of decoded Utterances,
    unreadable files skipped with a warning and listed in info["skipped"]."""
    splits = {name: Utterances(rate=rate) for name in SPLITS}
    skipped: list[tuple[str, str]] = []
    for split, path, text, speaker, name in items:
        try:
            audio = read_audio(path, rate)
        except AudioError as e:
            skipped.append((name, str(e)))
            if len(skipped) <= _MAX_WARNINGS:
                warnings.warn(f"{source}: skipped {e}", stacklevel=3)
            continue
        splits[split].add(audio, text, speaker, name)
    if len(skipped) > _MAX_WARNINGS:
        warnings.warn(
            f"{source}: {len(skipped)} unreadable files skipped in all",
            stacklevel=3,
        )
    summary = {
        "source": source,
        "utterances": {name: len(splits[name]) for name in SPLITS},
        "skipped": skipped,
        **(info or {}),
    }
    return Splits(splits, summary).require_all(source, "recordings")


def fsdd_split(
    name: str,
    split: str,
    valid_speakers=("lucas",),
    test_speakers=("theo", "yweweler"),
) -> str | None:
    """The split of an FSDD file name (`7_theo_12`, no extension); None when the
    name does not follow FSDD's pattern."""
    match = FSDD_NAME.match(name)
    if match is None:
        return None
    _, speaker, index = match.groups()
    index = int(index)
    if split == "speakers":
        if speaker in test_speakers:
            return "test"
        if valid_speakers:
            return "valid" if speaker in valid_speakers else "train"
        # No validation speaker: hold out recordings of the training voices.
        return "valid" if index in FSDD_VALID_INDEX else "train"
    if index in FSDD_TEST_INDEX:
        return "test"
    return "valid" if index in FSDD_VALID_INDEX else "train"


def _split_options(split, valid_speakers, test_speakers) -> tuple[tuple, tuple]:
    """The checked speaker lists (a single name is a list of one)."""
    if split not in ("official", "speakers"):
        raise ValueError(
            f"data.options.split: expected 'official' or 'speakers', got {split!r}"
        )
    valid = _speaker_names("valid_speakers", valid_speakers)
    test = _speaker_names("test_speakers", test_speakers)
    both = set(valid) & set(test)
    if both:
        raise ValueError(
            f"data.options: speakers {sorted(both)} are in both valid_speakers and "
            "test_speakers; a speaker belongs to one split"
        )
    return valid, test


def _speaker_names(key: str, value) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(
        isinstance(name, str) for name in names
    ):
        raise ValueError(
            f"data.options.{key}: expected a list of speaker names, got {names!r}"
        )
    return tuple(names)


@SOURCES.register("fsdd")
def load_fsdd(
    path=None,
    *,
    rate: int = 8000,
    split: str = "official",
    valid_speakers=("lucas",),
    test_speakers=("theo", "yweweler"),
) -> Splits:
    """FSDD from its folder (see the module docstring)."""
    valid_speakers, test_speakers = _split_options(split, valid_speakers, test_speakers)
    folder = require_dir(path, "fsdd", "the folder that holds recordings/")
    recordings = folder / "recordings" if (folder / "recordings").is_dir() else folder
    files = sorted(recordings.glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"{recordings}: fsdd: no .wav recordings found")
    items, speakers = [], set()
    for file in files:
        match = FSDD_NAME.match(file.stem)
        if match is None:
            continue  # not a recording of the dataset (a stray file)
        digit, speaker, _ = match.groups()
        speakers.add(speaker)
        which = fsdd_split(file.stem, split, valid_speakers, test_speakers)
        items.append((which, file, digit, speaker, file.name))
    _check_speakers_exist(split, speakers, valid_speakers, test_speakers)
    return _split_files(items, "fsdd", rate, {"split": split})


def _check_speakers_exist(split, speakers, valid_speakers, test_speakers) -> None:
    if split != "speakers":
        return
    unknown = (set(valid_speakers) | set(test_speakers)) - speakers
    if unknown:
        raise ValueError(
            f"data.options: no recordings of speakers {sorted(unknown)}; the data "
            f"has {sorted(speakers)}"
        )


@SOURCES.register("folder")
def load_folder(path=None, *, rate: int = 16000) -> Splits:
    """Audio files listed in `path/labels.tsv` (see the module docstring)."""
    folder = require_dir(path, "folder", "the folder that holds labels.tsv")
    labels = folder / "labels.tsv"
    if not labels.is_file():
        raise FileNotFoundError(
            f"{labels}: folder source needs a labels.tsv (path<TAB>transcript"
            "[<TAB>split] per line)"
        )
    items = []
    for number, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[1].strip():
            raise ValueError(
                f"{labels}:{number}: expected path<TAB>transcript[<TAB>split], got "
                f"{line[:80]!r}"
            )
        relative, text = fields[0].strip(), fields[1].strip()
        split = fields[2].strip() if len(fields) == 3 else md5_split(relative)
        if split not in SPLITS:
            raise ValueError(
                f"{labels}:{number}: split {split!r} is not one of {', '.join(SPLITS)}"
            )
        if Path(relative).suffix.lower() not in EXTENSIONS:
            raise ValueError(
                f"{labels}:{number}: {relative}: not an audio file name (expected "
                f"{', '.join(EXTENSIONS)})"
            )
        items.append((split, folder / relative, text, "", relative))
    return _split_files(items, "folder", rate)


@SOURCES.register("tfds")
def load_tfds(
    path=None,
    *,
    rate: int = 8000,
    name: str = "spoken_digit",
    split: str = "official",
    valid_speakers=("lucas",),
    test_speakers=("theo", "yweweler"),
) -> Splits:
    """TFDS `spoken_digit` from prepared data, split as `fsdd` (file names that do
    not follow FSDD's pattern by the MD5 of the name)."""
    import tensorflow_datasets as tfds

    valid_speakers, test_speakers = _split_options(split, valid_speakers, test_speakers)
    try:
        ds, info = tfds.load(
            name, split="train", data_dir=path, download=False, with_info=True
        )
    except (AssertionError, tfds.core.registered.DatasetNotFoundError) as e:
        where = path or "TFDS's default data_dir (~/tensorflow_datasets)"
        reason = " ".join(str(e).split())[:160]
        raise FileNotFoundError(
            f"tfds: {name} is not prepared in {where} ({reason})"
            f". Prepare it once on a machine with network: `tfds build {name} "
            f"--data_dir DIR` (or `tfds.load('{name}', data_dir=DIR)`), then set "
            "data.path to DIR"
        ) from None
    source_rate = int(info.features["audio"].sample_rate or 8000)
    scale = _pcm_scale(info.features["audio"].dtype)
    splits = {which: Utterances(rate=rate) for which in SPLITS}
    speakers = set()
    for example in tfds.as_numpy(ds):
        file = example["audio/filename"].decode("utf-8")
        stem = Path(file).stem
        digit = str(int(example["label"]))
        which = fsdd_split(stem, split, valid_speakers, test_speakers)
        match = FSDD_NAME.match(stem)
        speaker = match.group(2) if match else ""
        speakers.add(speaker)
        audio = np.asarray(example["audio"], dtype=np.float32) / scale
        if audio.ndim == 2:
            audio = audio.mean(axis=1)
        if audio.size == 0:
            continue
        splits[which or md5_split(stem)].add(
            resample(audio, source_rate, rate), digit, speaker, file
        )
    _check_speakers_exist(split, speakers, valid_speakers, test_speakers)
    summary = {
        "source": "tfds",
        "split": split,
        "utterances": {which: len(splits[which]) for which in SPLITS},
        "skipped": [],
    }
    return Splits(splits, summary).require_all("tfds", "recordings")


def _pcm_scale(dtype) -> float:
    """TFDS stores WAV audio as integers (int64 for 16-bit PCM)."""
    import tensorflow as tf

    dtype = tf.as_dtype(dtype)
    return 32768.0 if dtype.is_integer else 1.0


@SOURCES.register("tones")
def load_tones(
    path=None, *, rate: int = 8000, per_class: int = 20, speakers: int = 4, seed=0
) -> Splits:
    """Synthetic "digits" for the demo and the tests, no download and no speech:
    digit d is three tones whose pitches spell d (a pattern per digit), each
    "speaker" shifts every pitch and speed, and noise is added. `per_class`
    utterances per digit and speaker; split 70/15/15 by utterance. Not a model of
    speech: it only shows that the pipeline learns."""
    if path is not None:
        raise ValueError("tones: generated data reads no data.path; leave it unset")
    rng = np.random.default_rng(seed)
    splits = {name: Utterances(rate=rate) for name in SPLITS}
    # Three notes per digit from a 5-note scale: 10 distinct patterns.
    patterns = [(d % 5, (d * 3 + 1) % 5, d // 5 * 4) for d in range(10)]
    for speaker in range(speakers):
        base = 300.0 * 2 ** (speaker / 12)
        pace = 1.0 + 0.15 * speaker
        for digit, notes in enumerate(patterns):
            for i in range(per_class):
                parts = []
                for note in notes:
                    length = int(rate * 0.08 * pace * rng.uniform(0.8, 1.25))
                    t = np.arange(length) / rate
                    pitch = base * 2 ** (note * 2 / 12) * rng.uniform(0.98, 1.02)
                    envelope = np.hanning(length)
                    parts.append(np.sin(2 * np.pi * pitch * t) * envelope * 0.5)
                pause = np.zeros(int(rate * rng.uniform(0.02, 0.1)))
                audio = np.concatenate([pause, *parts, pause])
                audio += rng.normal(0, 0.01, audio.shape)
                share = i / per_class
                which = "train" if share < 0.7 else "valid" if share < 0.85 else "test"
                splits[which].add(
                    audio.astype(np.float32), str(digit), f"s{speaker}",
                    f"{digit}_s{speaker}_{i}",
                )  # fmt: skip
    summary = {
        "source": "tones",
        "utterances": {name: len(splits[name]) for name in SPLITS},
        "skipped": [],
    }
    return Splits(splits, summary).require_all("tones", "recordings")
