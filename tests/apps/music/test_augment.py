"""Transposition augmentation: every note stays on the keyboard, shifts are in range,
reproducible for a seed, and off by default."""

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.music.augment import random_transpose, transpose


def roll_with(keys, frames=6):
    roll = np.zeros((frames, 88), dtype="float32")
    for t, key in enumerate(keys):
        roll[t % frames, key] = 1.0
    return roll


def shift_of(before, after):
    """The key shift between two rolls of the same notes (None if not a shift)."""
    on_before, on_after = np.flatnonzero(before.any(0)), np.flatnonzero(after.any(0))
    shift = on_after[0] - on_before[0]
    return shift if np.array_equal(np.roll(before, shift, axis=1), after) else None


@pytest.mark.parametrize("keys", [[40, 44, 47], [0, 3], [85, 87], [0, 87]])
def test_every_shift_keeps_the_notes_and_stays_in_range(keys):
    roll = roll_with(keys)
    low, high = -6, 5
    lowest, highest = min(keys), max(keys)
    shifts = set()
    for r in range(-40, 40):
        out = transpose(tf.constant(roll), tf.constant(r, tf.int64), low, high).numpy()
        shift = shift_of(roll, out)
        assert shift is not None and out.sum() == roll.sum()  # no note lost or wrapped
        assert max(low, -lowest) <= shift <= min(high, 87 - highest)
        shifts.add(int(shift))
    # Every allowed shift is drawn for some r.
    assert shifts == set(range(max(low, -lowest), min(high, 87 - highest) + 1))


def test_a_silent_window_passes_through():
    silent = np.zeros((3, 88), "float32")
    out = transpose(tf.constant(silent), tf.constant(7, tf.int64), -3, 3).numpy()
    np.testing.assert_array_equal(out, silent)


def test_the_stage_is_seeded_changes_per_epoch_and_is_off_at_zero():
    rolls = [roll_with([40 + i, 44 + i]) for i in range(8)]
    ds = tf.data.Dataset.from_tensor_slices(np.stack(rolls))

    def epoch(stage):
        return [x.numpy() for x in stage(ds)]

    first, again = epoch(random_transpose(-5, 5, 1)), epoch(random_transpose(-5, 5, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    staged = random_transpose(-5, 5, 1)(ds)
    one, two = [x.numpy() for x in staged], [x.numpy() for x in staged]
    assert not all(np.array_equal(a, b) for a, b in zip(one, two))
    assert any(shift_of(r, o) != 0 for r, o in zip(rolls, one))
    off = epoch(random_transpose(0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(rolls, off))
    with pytest.raises(ValueError, match="contain 0"):
        random_transpose(1, 4, 0)
