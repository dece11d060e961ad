"""Transposition augmentation for piano rolls: a tf.data stage for training.

    lstmsuite train music --config configs/music/jsb_nade.yaml \\
        --set "data.augment.transpose=[-5, 6]"

A chorale moved up a tone is still a chorale, so every training window is shifted by
a random number of keys in `[low, high]` (a new shift each epoch, reproducible for a
seed). Only shifts that keep every note of the window inside the 88 keys are drawn:
the range is narrowed per window to what its lowest and highest notes allow, so no
note is ever dropped or wrapped around.
"""

from __future__ import annotations

import tensorflow as tf


def random_transpose(low: int, high: int, seed: int):
    """A stage shifting each (T, 88) roll by a uniform shift in [low, high] keys,
    limited per roll to the shifts that keep its notes on the keyboard."""
    if low > 0 or high < 0:
        raise ValueError(
            f"transposition range [{low}, {high}] must contain 0 (no shift)"
        )

    def stage(ds):
        if low == high == 0:
            return ds
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        return tf.data.Dataset.zip((ds, randoms)).map(
            lambda roll, r: transpose(roll, r, low, high)
        )

    return stage


def transpose(roll, r, low: int, high: int):
    """`roll` shifted by the shift that the random integer `r` picks (see above)."""
    keys = tf.shape(roll, out_type=tf.int64)[-1]
    sounding = tf.where(tf.reduce_any(roll > 0, axis=0))[:, 0]
    # A silent window may move anywhere in range; otherwise its notes bound the shift.
    lowest = tf.reduce_min(tf.concat([sounding, [keys - 1]], 0))
    highest = tf.reduce_max(tf.concat([sounding, [0]], 0))
    down = tf.maximum(tf.constant(low, tf.int64), -lowest)
    up = tf.minimum(tf.constant(high, tf.int64), keys - 1 - highest)
    shift = down + tf.math.floormod(tf.abs(r), up - down + 1)
    # No note sits within |shift| keys of the edge it moves towards, so rolling
    # (which wraps) only moves silent keys around the end.
    return tf.roll(roll, shift=shift, axis=-1)
