"""The speech data sources: the WAV reader on good and bad files, FSDD's two
splits, the labels.tsv folder, TFDS (unprepared, and mocked), the real FSDD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from lstmsuite.apps.speech.audio import AudioError, read_audio
from lstmsuite.apps.speech.data import SOURCES, fsdd_split
from tests.apps.speech.fixtures import make_fsdd, tone, write_wav

SHARED_FSDD = Path(__file__).resolve().parents[4] / "shared" / "data" / "fsdd"


def test_wav_reader_mixes_down_resamples_and_scales(tmp_path):
    clip = tone(3)
    stereo = np.stack([clip, clip], axis=1)
    write_wav(tmp_path / "stereo.wav", stereo, rate=16000)
    got = read_audio(tmp_path / "stereo.wav", 8000)
    assert got.ndim == 1 and len(got) == len(clip) // 2
    assert np.abs(got).max() == pytest.approx(np.abs(clip).max(), rel=0.05)
    wavfile.write(tmp_path / "u8.wav", 8000, (clip * 127 + 128).astype(np.uint8))
    np.testing.assert_allclose(read_audio(tmp_path / "u8.wav", 8000), clip, atol=0.02)
    wavfile.write(tmp_path / "f32.wav", 8000, clip)
    np.testing.assert_array_equal(read_audio(tmp_path / "f32.wav", 8000), clip)


def test_wav_reader_rejects_bad_files_with_their_reason(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all")
    good = write_wav(tmp_path / "good.wav", tone(1))
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:30])
    wavfile.write(tmp_path / "none.wav", 8000, np.zeros(0, np.int16))
    cases = {
        "empty.wav": "empty file",
        "text.wav": "not a readable WAV",
        "cut.wav": "not a readable WAV",
        "none.wav": "no samples",
        "missing.wav": "no such file",
        "good.mp3": "unsupported audio format",
    }
    (tmp_path / "good.mp3").write_bytes(good.read_bytes())
    for name, reason in cases.items():
        with pytest.raises(AudioError, match=reason) as info:
            read_audio(tmp_path / name, 8000)
        assert name in str(info.value)


def indices(utterances) -> set[int]:
    """The recording indices of FSDD names (`7_alice_3.wav` -> 3)."""
    return {int(name.split("_")[2][:-4]) for name in utterances.names}


def test_fsdd_official_split_is_the_dataset_convention(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", per=11)
    splits = SOURCES.get("fsdd")(str(root), rate=8000)
    assert indices(splits["test"]) == set(range(5))
    assert indices(splits["valid"]) == set(range(5, 10))
    assert len(splits["test"]) == 4 * 10 * 5 and len(splits["train"]) == 4 * 10
    assert splits["train"].texts[0] in "0123456789"
    assert set(splits["test"].speakers) == set(splits["train"].speakers)


def test_fsdd_speakers_split_holds_whole_speakers_out(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", per=3)
    options = {"split": "speakers", "valid_speakers": ["bob"]}
    splits = SOURCES.get("fsdd")(
        str(root), rate=8000, test_speakers=["carol", "dave"], **options
    )
    speakers = {name: set(split.speakers) for name, split in splits.items()}
    assert speakers == {"train": {"alice"}, "valid": {"bob"}, "test": {"carol", "dave"}}
    with pytest.raises(ValueError, match="no recordings of speakers"):
        SOURCES.get("fsdd")(str(root), rate=8000, split="speakers")
    with pytest.raises(ValueError, match="both"):
        SOURCES.get("fsdd")(
            str(root), rate=8000, split="speakers", valid_speakers=["bob"],
            test_speakers=["bob"],
        )  # fmt: skip
    assert fsdd_split("not_an_fsdd_name", "official") is None


def test_fsdd_speakers_split_without_a_validation_speaker(tmp_path):
    # valid_speakers: [] trains on every other voice and validates on their
    # recordings 5-9; the test voices stay unheard.
    root = make_fsdd(tmp_path / "fsdd", per=11)
    splits = SOURCES.get("fsdd")(
        str(root), rate=8000, split="speakers", valid_speakers=[],
        test_speakers=["carol", "dave"],
    )  # fmt: skip
    speakers = {name: set(split.speakers) for name, split in splits.items()}
    assert speakers == {
        "train": {"alice", "bob"}, "valid": {"alice", "bob"}, "test": {"carol", "dave"}
    }  # fmt: skip
    one = SOURCES.get("fsdd")(
        str(root), rate=8000, split="speakers", valid_speakers="bob",
        test_speakers=["carol", "dave"],
    )  # fmt: skip
    assert set(one["valid"].speakers) == {"bob"}  # a name alone is a list of one
    with pytest.raises(ValueError, match="valid_speakers: expected a list"):
        SOURCES.get("fsdd")(str(root), rate=8000, split="speakers", valid_speakers=3)
    assert indices(splits["valid"]) == set(range(5, 10))
    assert not indices(splits["valid"]) & indices(splits["train"])
    assert len(splits["test"]) == 2 * 10 * 11


def test_fsdd_skips_and_counts_unreadable_recordings(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", per=11)
    (root / "recordings" / "3_alice_10.wav").write_bytes(b"RIFF....junk")
    with pytest.warns(UserWarning, match="3_alice_10.wav"):
        splits = SOURCES.get("fsdd")(str(root), rate=8000)
    assert [name for name, _ in splits.info["skipped"]] == ["3_alice_10.wav"]
    assert splits.info["utterances"]["train"] == 4 * 10 - 1


def write_folder(root: Path, with_split: bool = True) -> Path:
    lines = []
    for i in range(30):
        word = ["yes", "no", "stop"][i % 3]
        path = write_wav(root / "clips" / f"{i}.wav", tone(i % 3, rate=16000, seed=i),
                         rate=16000)  # fmt: skip
        split = ["train"] * 6 + ["valid", "test"]
        column = f"\t{split[i % 8]}" if with_split else ""
        lines.append(f"{path.relative_to(root)}\t{word}{column}")
    (root / "labels.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_folder_source_reads_labels_splits_and_resamples(tmp_path):
    root = write_folder(tmp_path / "data")
    (root / "clips" / "5.wav").write_bytes(b"")  # a damaged file is skipped
    with pytest.warns(UserWarning, match="5.wav"):
        splits = SOURCES.get("folder")(str(root), rate=8000)
    assert splits.info["skipped"][0][0] == "clips/5.wav"
    assert sum(len(s) for s in splits.values()) == 29
    assert set(splits["train"].texts) == {"yes", "no", "stop"}
    assert len(splits["train"].audio[0]) == 2000  # 0.25 s at 8 kHz
    by_md5 = SOURCES.get("folder")(str(write_folder(tmp_path / "b", False)), rate=8000)
    assert sum(len(s) for s in by_md5.values()) == 30


def test_folder_source_errors_name_the_line(tmp_path):
    root = write_folder(tmp_path / "data")
    (root / "labels.tsv").write_text("clips/0.wav\n")
    with pytest.raises(ValueError, match=r"labels.tsv:1: expected path<TAB>"):
        SOURCES.get("folder")(str(root), rate=8000)
    (root / "labels.tsv").write_text("clips/0.wav\tyes\tdev\n")
    with pytest.raises(ValueError, match="split 'dev'"):
        SOURCES.get("folder")(str(root), rate=8000)
    with pytest.raises(FileNotFoundError, match="labels.tsv"):
        SOURCES.get("folder")(str(tmp_path), rate=8000)


def test_tfds_unprepared_says_how_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfds build spoken_digit"):
        SOURCES.get("tfds")(str(tmp_path), rate=8000)


def test_tfds_source_reads_prepared_examples(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40, data_dir=str(tmp_path)):
        splits = SOURCES.get("tfds")(str(tmp_path), rate=8000)
    assert sum(len(s) for s in splits.values()) == 40
    assert all(t in "0123456789" for s in splits.values() for t in s.texts)
    audio = splits["train"].audio[0]
    assert audio.dtype == np.float32 and np.abs(audio).max() <= 1.0


@pytest.mark.skipif(not SHARED_FSDD.is_dir(), reason="../shared/data/fsdd is absent")
def test_the_real_fsdd_has_its_documented_splits():
    official = SOURCES.get("fsdd")(str(SHARED_FSDD), rate=8000)
    assert official.info["utterances"] == {"train": 2400, "valid": 300, "test": 300}
    speakers = SOURCES.get("fsdd")(str(SHARED_FSDD), rate=8000, split="speakers")
    assert set(speakers["test"].speakers) == {"theo", "yweweler"}
    assert set(speakers["valid"].speakers) == {"lucas"}
    assert not set(speakers["train"].speakers) & {"theo", "yweweler", "lucas"}
