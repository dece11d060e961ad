"""Chord statistics: pitch classes, triads and their subsets, and the means."""

import numpy as np
import pytest

from lstmsuite.apps.music.chords import chord_statistics, in_a_triad, pitch_class_masks


def frame(*pitches):
    roll = np.zeros((1, 88), dtype="float32")
    for pitch in pitches:
        roll[0, pitch - 21] = 1
    return roll


@pytest.mark.parametrize(
    "pitches, triad",
    [
        ((60, 64, 67), True),  # C major
        ((48, 60, 64, 67, 76), True),  # C major, doubled, open voicing
        ((57, 60, 64), True),  # A minor
        ((62, 66, 69), True),  # D major
        ((61, 64, 68), True),  # C# minor
        ((60, 64), True),  # a bare third: part of C major (and A minor)
        ((60, 67), True),  # an open fifth
        ((60,), True),
        ((60, 63, 66), False),  # diminished
        ((60, 64, 68), False),  # augmented
        ((60, 64, 67, 70), False),  # dominant seventh
        ((60, 61), False),  # a semitone
        ((60, 62, 64), False),
    ],
)
def test_triads_and_their_subsets(pitches, triad):
    assert bool(in_a_triad(pitch_class_masks(frame(*pitches)))[0]) is triad


def test_pitch_classes_ignore_the_octave():
    np.testing.assert_array_equal(
        pitch_class_masks(frame(21, 33, 45)), pitch_class_masks(frame(105))
    )  # A0, A1, A2 and A7: pitch class 9
    assert pitch_class_masks(frame(60))[0] == 1  # C


def test_statistics_over_rolls():
    rolls = [
        np.concatenate([frame(60, 64, 67), frame(60, 61)]),
        np.concatenate([np.zeros((2, 88), "float32"), frame(57, 60, 64, 69)]),
    ]
    stats = chord_statistics(rolls)
    assert stats["frames"] == 5
    assert stats["notes_per_frame"] == pytest.approx((3 + 2 + 0 + 0 + 4) / 5)
    assert stats["silent_share"] == pytest.approx(2 / 5)
    assert stats["triad_share"] == pytest.approx(2 / 3)  # of the 3 sounding frames
    with pytest.raises(ValueError, match="no frames"):
        chord_statistics([np.zeros((0, 88))])
