"""Data sources of the music application, each on tiny fixtures built here."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import scipy.io

from lstmsuite.apps.music.data import (
    SOURCES,
    SPLITS,
    RollSplits,
    score_to_roll,
    split_of,
    squeeze_silence,
    work_of,
)
from lstmsuite.apps.music.midi import write_midi

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
JSB_MAT = SHARED_DATA / "poly_music" / "JSB_Chorales.mat"


def _random_rolls(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    return [
        (rng.random((int(rng.integers(3, 9)), 88)) < 0.1).astype(np.float32)
        for _ in range(count)
    ]


def _object_array(rolls: list[np.ndarray]) -> np.ndarray:
    """What MATLAB stores as a cell array; pieces of unequal length must stay apart."""
    cells = np.empty((len(rolls),), dtype=object)
    for index, roll in enumerate(rolls):
        cells[index] = roll
    return cells


def _assert_rolls(splits: RollSplits) -> None:
    assert set(splits) == set(SPLITS)
    for rolls in splits.values():
        for roll in rolls:
            assert roll.dtype == np.float32
            assert roll.ndim == 2 and roll.shape[1] == 88
            assert set(np.unique(roll)) <= {0.0, 1.0}


def test_registry_has_every_source():
    assert {"music21_bach", "mat", "pickle", "midi_dir"} <= set(SOURCES.names())
    with pytest.raises(ValueError, match="Did you mean 'mat'"):
        SOURCES.get("mta")


def test_split_is_deterministic_and_roughly_80_10_10():
    keys = [f"bwv{i}.{j}" for i in range(200) for j in range(5)]
    splits = [split_of(key) for key in keys]
    assert splits == [split_of(key) for key in keys]
    shares = {name: splits.count(name) / len(keys) for name in SPLITS}
    assert 0.75 < shares["train"] < 0.85
    assert 0.07 < shares["valid"] < 0.13 and 0.07 < shares["test"] < 0.13
    # Versions of one chorale share a work, hence a split.
    assert work_of("bwv248.23-2") == work_of("bwv248.23-s") == "bwv248.23"
    assert work_of("bwv277") == "bwv277"


# ---- mat ----------------------------------------------------------------------


@pytest.fixture
def mat_rolls():
    rng = np.random.default_rng(0)
    return {"traindata": _random_rolls(rng, 3), "validdata": _random_rolls(rng, 2)} | {
        "testdata": _random_rolls(rng, 2)
    }


def test_mat_source_reads_the_benchmark_format(tmp_path, mat_rolls):
    path = tmp_path / "tiny.mat"
    scipy.io.savemat(path, {k: _object_array(v) for k, v in mat_rolls.items()})

    splits = SOURCES.get("mat")(str(path), verbose=False)

    _assert_rolls(splits)
    assert splits.info["pieces"] == {"train": 3, "valid": 2, "test": 2}
    for split, key in [("train", "traindata"), ("valid", "validdata")]:
        for got, want in zip(splits[split], mat_rolls[key], strict=True):
            np.testing.assert_array_equal(got, want)
    assert splits.info["frames"]["test"] == sum(len(r) for r in mat_rolls["testdata"])


def test_mat_source_missing_key_names_the_file_and_key(tmp_path, mat_rolls):
    path = tmp_path / "nokey.mat"
    del mat_rolls["validdata"]
    scipy.io.savemat(path, {k: _object_array(v) for k, v in mat_rolls.items()})
    with pytest.raises(ValueError, match="validdata") as error:
        SOURCES.get("mat")(path, verbose=False)
    assert str(path) in str(error.value)


def test_mat_source_missing_file_and_missing_path(tmp_path):
    missing = tmp_path / "nowhere.mat"
    with pytest.raises(FileNotFoundError, match="nowhere.mat"):
        SOURCES.get("mat")(missing)
    with pytest.raises(ValueError, match="needs data.path"):
        SOURCES.get("mat")()


def test_mat_source_rejects_bad_rolls_and_empty_datasets(tmp_path):
    bad = tmp_path / "bad.mat"
    pieces = {k: _object_array([np.zeros((4, 88))]) for k in ("validdata", "testdata")}
    scipy.io.savemat(bad, {"traindata": _object_array([np.zeros((4, 87))])} | pieces)
    with pytest.raises(ValueError, match=r"traindata\[0\].*\(4, 87\)"):
        SOURCES.get("mat")(bad, verbose=False)

    empty = tmp_path / "empty.mat"
    keys = ("traindata", "validdata", "testdata")
    scipy.io.savemat(empty, {k: np.empty((0,), dtype=object) for k in keys})
    with pytest.raises(ValueError, match="empty"):
        SOURCES.get("mat")(empty, verbose=False)


# ---- pickle ---------------------------------------------------------------------


def test_pickle_source_converts_note_lists(tmp_path):
    data = {
        "train": [[[60, 64, 67], [60, 64, 67], [], [62, 200]], [[21], [108.0]]],
        "valid": [[[48, 55]]],
        "test": [([59], (12, 74))],  # tuples are plain data too
    }
    path = tmp_path / "tiny.pickle"
    path.write_bytes(pickle.dumps(data, protocol=2))  # the originals are Python 2 era

    splits = SOURCES.get("pickle")(path, verbose=False)

    _assert_rolls(splits)
    first = splits["train"][0]
    assert first.shape == (4, 88)
    assert np.flatnonzero(first[0]).tolist() == [60 - 21, 64 - 21, 67 - 21]
    assert first[2].sum() == 0 and np.flatnonzero(first[3]).tolist() == [62 - 21]
    np.testing.assert_array_equal(splits["train"][1][:, [0, 87]], np.eye(2))
    assert np.flatnonzero(splits["test"][0][1]).tolist() == [74 - 21]
    assert splits.info["dropped_notes"] == 2  # 200 and 12
    # The `mat` source hands a pickle to this reader, so one config key does both.
    mat_view = SOURCES.get("mat")(path, verbose=False)
    np.testing.assert_array_equal(mat_view["valid"][0], splits["valid"][0])


class _Exploit:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_source_refuses_code_and_does_not_run_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(
        pickle.dumps({"train": [_Exploit(marker)], "valid": [], "test": []})
    )
    assert b"system" in path.read_bytes()  # the payload really is in the file

    with pytest.raises(ValueError, match="disallowed objects") as error:
        SOURCES.get("pickle")(path, verbose=False)

    assert str(path) in str(error.value) and "system" in str(error.value)
    assert not marker.exists()


def test_pickle_source_refuses_numpy_arrays_and_bad_structure(tmp_path):
    arrays = tmp_path / "arrays.pickle"
    arrays.write_bytes(pickle.dumps({"train": [np.zeros((2, 88))]}))
    with pytest.raises(ValueError, match="disallowed objects"):
        SOURCES.get("pickle")(arrays, verbose=False)

    not_dict = tmp_path / "list.pickle"
    not_dict.write_bytes(pickle.dumps([[[60]]]))
    with pytest.raises(ValueError, match="expected a dict"):
        SOURCES.get("pickle")(not_dict, verbose=False)

    no_test = tmp_path / "notest.pickle"
    no_test.write_bytes(pickle.dumps({"train": [[[60]]], "valid": []}))
    with pytest.raises(ValueError, match="missing key 'test'"):
        SOURCES.get("pickle")(no_test, verbose=False)

    garbage = tmp_path / "garbage.pickle"
    garbage.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(ValueError, match="not a readable pickle"):
        SOURCES.get("pickle")(garbage, verbose=False)


# ---- midi_dir -------------------------------------------------------------------


def _two_midi_files_and_a_corrupt_one(folder: Path) -> dict[str, np.ndarray]:
    rolls = {
        "a.mid": np.zeros((4, 88), dtype=np.float32),
        "nested/deeper/b.midi": np.zeros((6, 88), dtype=np.float32),
    }
    rolls["a.mid"][0:2, [39, 43, 46]] = 1  # a C major chord held two frames
    rolls["a.mid"][3, 39] = 1  # after a rest (trailing silence would not survive)
    rolls["nested/deeper/b.midi"][1:6, 50] = 1
    rolls["nested/deeper/b.midi"][5, 20] = 1
    for name, roll in rolls.items():
        write_midi(roll, folder / name, tempo_bpm=90)
    (folder / "nested" / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (folder / "notes.txt").write_text("not music")  # ignored: not a .mid file
    return rolls


def test_midi_dir_reads_files_recursively_and_skips_the_corrupt_one(tmp_path):
    rolls = _two_midi_files_and_a_corrupt_one(tmp_path)

    with pytest.warns(UserWarning, match="skipped nested/corrupt.mid"):
        splits = SOURCES.get("midi_dir")(tmp_path, verbose=False)

    _assert_rolls(splits)
    assert sum(splits.info["pieces"].values()) == 2
    assert [name for name, _ in splits.info["skipped"]] == ["nested/corrupt.mid"]
    for name, roll in rolls.items():
        split = split_of(name)
        index = splits.info["names"][split].index(name)
        got = splits[split][index]
        np.testing.assert_array_equal(got, roll)


def test_midi_dir_summary_reports_the_skipped_file(tmp_path, capsys):
    _two_midi_files_and_a_corrupt_one(tmp_path)
    with pytest.warns(UserWarning):
        SOURCES.get("midi_dir")(tmp_path, verbose=True)
    assert "1 skipped as unreadable" in capsys.readouterr().err


def test_midi_dir_errors_for_empty_or_all_unreadable_folders(tmp_path):
    with pytest.raises(ValueError, match="no .mid or .midi files"):
        SOURCES.get("midi_dir")(tmp_path, verbose=False)
    (tmp_path / "bad.mid").write_bytes(b"\x00" * 10)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="empty.*1 skipped"):
        SOURCES.get("midi_dir")(tmp_path, verbose=False)
    with pytest.raises(FileNotFoundError, match="midi_dir data folder not found"):
        SOURCES.get("midi_dir")(tmp_path / "missing", verbose=False)


def test_midi_dir_ignores_drums(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0, end=0.5))
    pm.instruments.append(drums)
    pm.write(str(tmp_path / "drums.mid"))
    with pytest.warns(UserWarning, match="no pitched notes"), pytest.raises(ValueError):
        SOURCES.get("midi_dir")(tmp_path, verbose=False)


# ---- music21_bach ---------------------------------------------------------------


def test_score_to_roll_follows_the_quarter_note_grid(tmp_path):
    import music21

    stream, note, chord = music21.stream, music21.note, music21.chord
    soprano, bass = stream.Part(), stream.Part()
    soprano.append(note.Note("E5", quarterLength=2.0))  # frames 0-1
    soprano.append(note.Note("D5", quarterLength=0.5))  # frame 2 (on the beat)
    soprano.append(note.Note("C5", quarterLength=0.5))  # off the beat: not sampled
    soprano.append(note.Rest(quarterLength=1.0))  # frame 3 silent
    bass.append(chord.Chord(["C3", "G3"], quarterLength=4.0))  # frames 0-3
    horn = stream.Part([note.Note("C6", quarterLength=4.0)])  # not a voice: left out
    soprano.partName, bass.partName, horn.partName = "Soprano", "Bass", "Horn 1"
    score = stream.Score([horn, soprano, bass])
    path = score.write("musicxml", fp=tmp_path / "tiny.musicxml")

    roll = score_to_roll(path)

    expected = np.zeros((4, 88), dtype=np.float32)
    expected[0:2, 76 - 21] = 1  # E5
    expected[2, 74 - 21] = 1  # D5
    expected[0:4, [48 - 21, 55 - 21]] = 1  # C3, G3
    np.testing.assert_array_equal(roll, expected)


def test_squeeze_silence_trims_ends_and_shortens_long_rests():
    sounding = np.zeros((16, 88), dtype=np.float32)
    frames_with_notes = [2, 3, 5, 12]  # rests of 1 and 6 frames between them
    sounding[frames_with_notes, 40] = 1
    squeezed = squeeze_silence(sounding, max_rest=4)
    assert np.flatnonzero(squeezed[:, 40]).tolist() == [0, 1, 3, 8]
    assert len(squeezed) == 9
    assert squeeze_silence(np.zeros((5, 88)), max_rest=4).shape == (0, 88)


def test_music21_bach_small_parse_split_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMSUITE_CACHE", str(tmp_path / "cache"))
    load = SOURCES.get("music21_bach")

    first = load(limit=4, verbose=False)

    _assert_rolls(first)
    assert sum(first.info["pieces"].values()) == 4 and first.info["skipped"] == []
    assert first.info["from_cache"] is False
    all_rolls = [roll for split in SPLITS for roll in first[split]]
    for roll in all_rolls:
        assert roll.shape[0] >= 16  # a chorale lasts at least a few bars
        voices = roll.sum(axis=1)
        # Four voices sampled on the beat, as in the JSB benchmark (bwv1.6's horn
        # part is left out).
        assert voices.max() <= 4 and 3.0 < voices.mean() <= 4.0
        active = np.flatnonzero(roll.any(axis=0)) + 21
        assert 28 <= active.min() and active.max() <= 96  # voices, not piano extremes
    for split in SPLITS:
        for name in first.info["names"][split]:
            assert split_of(work_of(name)) == split

    cache_files = list((tmp_path / "cache").glob("*.npz"))
    assert len(cache_files) == 1

    second = load(limit=4, verbose=False)
    assert second.info["from_cache"] is True
    assert second.info["names"] == first.info["names"]
    for split in SPLITS:
        for a, b in zip(first[split], second[split], strict=True):
            np.testing.assert_array_equal(a, b)

    # A damaged cache is rebuilt with a warning, never trusted.
    cache_files[0].write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable cache"):
        third = load(limit=4, verbose=False)
    assert (
        third.info["from_cache"] is False and third.info["names"] == first.info["names"]
    )


def test_music21_bach_skips_and_counts_a_score_that_fails(tmp_path, monkeypatch):
    import lstmsuite.apps.music.data as data

    parse = data.score_to_roll

    def flaky(path):
        if Path(path).stem == "bwv10.7":
            raise ValueError("simulated parse failure")
        return parse(path)

    monkeypatch.setattr(data, "score_to_roll", flaky)
    with pytest.warns(UserWarning, match="skipped bwv10.7.*simulated"):
        splits = data.load_music21_bach(tmp_path, limit=3, workers=1, verbose=False)
    assert sum(splits.info["pieces"].values()) == 2
    assert splits.info["skipped"] == [
        ("bwv10.7", "ValueError: simulated parse failure")
    ]


def test_music21_bach_path_overrides_the_cache_folder(tmp_path):
    data = SOURCES.get("music21_bach")(tmp_path / "here", limit=1, verbose=False)
    assert sum(data.info["pieces"].values()) == 1
    assert Path(data.info["cache"]).parent == tmp_path / "here"
    with pytest.raises(ValueError, match="limit"):
        SOURCES.get("music21_bach")(tmp_path, limit=0)
    with pytest.raises(TypeError, match="limt"):
        SOURCES.get("music21_bach")(tmp_path, limt=3)


# ---- the real benchmark file (optional) -----------------------------------------


@pytest.mark.skipif(not JSB_MAT.exists(), reason=f"{JSB_MAT} is not present")
def test_real_jsb_chorales_mat():
    splits = SOURCES.get("mat")(JSB_MAT, verbose=False)
    assert splits.info["pieces"] == {"train": 229, "valid": 76, "test": 77}
    _assert_rolls(splits)
    assert min(len(roll) for split in SPLITS for roll in splits[split]) > 1
