"""Piano roll <-> notes conversions, MIDI writing/reading and the PNG plot."""

from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest
from PIL import Image

from lstmsuite.apps.music.midi import (
    NUM_KEYS,
    midi_to_roll,
    notes_to_roll,
    plot_piano_roll,
    roll_to_notes,
    write_midi,
)


def _roll(num_frames: int, notes: list[tuple[int, int, int]]) -> np.ndarray:
    """A roll with `(pitch, first_frame, end_frame)` notes switched on."""
    roll = np.zeros((num_frames, NUM_KEYS), dtype=np.float32)
    for pitch, start, end in notes:
        roll[start:end, pitch - 21] = 1.0
    return roll


def test_notes_to_roll_samples_each_frame_at_its_start():
    roll = notes_to_roll(
        starts=[0.5, 2.0, 3.0, 1.0, 1.5, 2.25],
        ends=[1.5, 4.0, 3.0, 2.0, 2.5, 2.75],
        # 60 appears in three overlapping notes; 108 is a grace note (no length)
        # and 70 an off-beat eighth: neither sounds at a frame start.
        pitches=[60, 21, 108, 60, 60, 70],
    )
    expected = _roll(4, [(60, 1, 3), (21, 2, 4)])
    np.testing.assert_array_equal(roll, expected)
    assert roll.dtype == np.float32


def test_notes_to_roll_tolerates_times_a_hair_off_the_grid():
    roll = notes_to_roll([0.9999999], [2.0000001], [64])
    np.testing.assert_array_equal(roll, _roll(2, [(64, 1, 2)]))


def test_roll_to_notes_merges_consecutive_frames():
    roll = _roll(6, [(60, 0, 2), (60, 3, 6), (67, 1, 4), (21, 5, 6), (108, 0, 1)])
    starts, ends, pitches = roll_to_notes(roll)
    assert sorted(zip(pitches.tolist(), starts.tolist(), ends.tolist())) == [
        (21, 5, 6),
        (60, 0, 2),
        (60, 3, 6),
        (67, 1, 4),
        (108, 0, 1),
    ]


def test_write_midi_round_trip(tmp_path):
    roll = _roll(8, [(60, 0, 2), (60, 3, 4), (64, 0, 4), (67, 2, 8), (21, 7, 8)])
    path = write_midi(roll, tmp_path / "sub" / "out.mid", tempo_bpm=120, velocity=90)
    assert path.exists()

    pm = pretty_midi.PrettyMIDI(str(path))
    assert len(pm.instruments) == 1 and pm.instruments[0].program == 0
    notes = sorted(
        (n.pitch, round(n.start, 3), round(n.end, 3), n.velocity)
        for n in pm.instruments[0].notes
    )
    # 120 bpm: a frame (quarter note) lasts 0.5 s.
    assert notes == [
        (21, 3.5, 4.0, 90),
        (60, 0.0, 1.0, 90),
        (60, 1.5, 2.0, 90),
        (64, 0.0, 2.0, 90),
        (67, 1.0, 4.0, 90),
    ]
    back, dropped = midi_to_roll(path)
    np.testing.assert_array_equal(back, roll)
    assert dropped == 0


def test_write_midi_rejects_a_roll_of_the_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(T, 88\)"):
        write_midi(np.zeros((4, 12)), tmp_path / "bad.mid")


def test_write_midi_of_silence_is_a_valid_empty_file(tmp_path):
    path = write_midi(np.zeros((4, NUM_KEYS)), tmp_path / "silence.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert [note for inst in pm.instruments for note in inst.notes] == []


def test_midi_to_roll_follows_the_files_tempo_changes(tmp_path):
    # Quarter note C4 at 120 bpm, then a tempo doubling and a half note D4: in
    # seconds the D4 is as long as the C4, on the quarter-note grid it is twice.
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.Message("note_on", note=60, velocity=80, time=0),
            mido.Message("note_off", note=60, velocity=0, time=480),
            mido.MetaMessage("set_tempo", tempo=250_000, time=0),
            mido.Message("note_on", note=62, velocity=80, time=0),
            mido.Message("note_off", note=62, velocity=0, time=960),
            mido.Message("note_on", note=10, velocity=80, time=0),  # below A0
            mido.Message("note_off", note=10, velocity=0, time=480),
        ]
    )
    midi_file = mido.MidiFile(ticks_per_beat=480)
    midi_file.tracks.append(track)
    midi_file.save(tmp_path / "tempo.mid")

    roll, dropped = midi_to_roll(tmp_path / "tempo.mid")
    np.testing.assert_array_equal(roll, _roll(3, [(60, 0, 1), (62, 1, 3)]))
    assert dropped == 1


def test_plot_piano_roll_writes_a_png(tmp_path):
    roll = _roll(32, [(60, 0, 8), (64, 8, 16), (67, 16, 32)])
    path = plot_piano_roll(roll, tmp_path / "plots" / "roll.png", title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
        assert width > 100 and height > 100
        # Not a blank canvas: the notes and axes draw dark pixels.
        assert np.asarray(image.convert("L")).min() < 100
