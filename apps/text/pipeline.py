"""Token ids -> training windows, in `tf.data` (`data.windows`).

Both kinds give batches `(x, y)` of shape (B, T) with `y` the next token of `x`:

* `stateful` (char-rnn's truncated backpropagation through time): the text is cut
  into B contiguous streams, one per batch row; batch k holds window k of every
  stream, so row b of batch k+1 continues row b of batch k and a stateful model
  carries its state across them. Each epoch starts its streams at a new random
  offset in [0, T), so window edges move from epoch to epoch.
* `random`: windows at uniformly random positions, new ones every epoch, as many
  per epoch as the text has windows; every window starts from a zero state
  (nanoGPT's sampling, and what a Transformer trains on).

Validation and test use the stream layout with offset 0 for both kinds (fixed
windows; a stateful model carries its state through them as in training).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lstmsuite.pipelines.config import ConfigError


def as_streams(ids: np.ndarray, streams: int) -> np.ndarray:
    """`ids` cut into `streams` contiguous rows of equal length (B, L); the last
    len(ids) % streams tokens are left out."""
    length = len(ids) // streams
    return np.asarray(ids[: length * streams], np.int32).reshape(streams, length)


def stream_batches(
    ids: np.ndarray, batch: int, window: int, *, seed: int | None, name: str
) -> tf.data.Dataset:
    """Stream-layout batches; `seed` None: offset 0 every epoch (evaluation)."""
    rows = as_streams(ids, batch)
    length = rows.shape[1]
    # With a random offset up to T - 1, every epoch must still have n windows.
    count = (length - window) // window if seed is not None else (length - 1) // window
    if count < 1:
        raise ConfigError(
            f"data: the {name} text ({len(ids)} tokens) is too short for "
            f"data.batch_size={batch} streams of data.window={window} tokens; "
            "lower them or use more text"
        )
    rows_t = tf.constant(rows)

    def window_at(offset, k):
        start = offset + k * window
        chunk = rows_t[:, start : start + window + 1]
        return chunk[:, :-1], chunk[:, 1:]

    if seed is None:
        offsets = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
    else:
        offsets = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).take(1)
        offsets = offsets.map(lambda r: tf.math.floormod(r, window))

    def epoch(offset):
        ks = tf.data.Dataset.range(count)
        return ks.map(lambda k: window_at(offset, k))

    ds = offsets.flat_map(epoch)
    return ds.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)


def random_batches(
    ids: np.ndarray, batch: int, window: int, *, seed: int, name: str
) -> tf.data.Dataset:
    """Batches of windows at random positions, new ones every epoch."""
    span = len(ids) - window - 1
    count = (len(ids) // window) // batch
    if span < 1 or count < 1:
        raise ConfigError(
            f"data: the {name} text ({len(ids)} tokens) is too short for "
            f"data.batch_size={batch} windows of data.window={window} tokens"
        )
    ids_t = tf.constant(np.asarray(ids, np.int32))

    def window_at(start):
        chunk = ids_t[start : start + window + 1]
        return chunk[:-1], chunk[1:]

    starts = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = starts.map(lambda r: tf.math.floormod(r, span)).map(window_at)
    ds = ds.batch(batch, drop_remainder=True).take(count)
    return ds.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)
