"""tf.data stages shared by every app, and the one pipeline that strings them together.

    python -m pytest tests/pipelines/test_data.py

A pipeline is a list of named stages (`from_sequences -> cache -> shuffle -> crop ->
map -> batch -> prefetch`), each a small function from a dataset to a dataset, so an
app can reuse the whole chain (`sequence_pipeline`) or only some stages. Everything
random takes the config's seed: the same seed gives the same batches in the same order,
and every epoch still sees a new shuffle and new crops.

Batches are padded per batch (to their longest member) or, with
`data.bucket_boundaries`, grouped by length first so that little padding is needed.
Padding is zeros and the per-step sample weight of a padded step is 0, which keeps
padding out of both the loss and the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from lstmsuite.pipelines.config import DataConfig

AUTOTUNE = tf.data.AUTOTUNE
Stage = Callable[[tf.data.Dataset], tf.data.Dataset]


# ----------------------------------------------------------------------------- sources


def from_sequences(sequences: Sequence[np.ndarray], dtype: Any = "float32"):
    """One element per sequence: a dense tensor (T_i, *features) of its own length.

    The sequences are stored once as a flat buffer plus offsets and sliced in the
    graph, which is faster than a Python generator and keeps the dataset serializable
    (so it can be distributed and cached).
    """
    if not sequences:
        raise ValueError("no sequences to build a dataset from")
    arrays = [np.asarray(s, dtype=dtype) for s in sequences]
    feature_shape = arrays[0].shape[1:]
    for i, a in enumerate(arrays):
        if a.ndim < 1 or a.shape[1:] != feature_shape:
            raise ValueError(
                f"sequence {i} has shape {a.shape}; every sequence must be "
                f"(T, {', '.join(map(str, feature_shape))})"
            )
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = tf.constant(np.concatenate(arrays, axis=0))

    def take(start, length):
        return flat[start : start + length]

    return tf.data.Dataset.from_tensor_slices((starts, lengths)).map(take)


# ------------------------------------------------------------------------------ stages


def cache(enabled: bool | str = True) -> Stage:
    """In memory (True), to a file prefix (str) or not at all (False). Put it before
    the random stages, or every epoch would replay the first epoch's randomness."""

    def stage(ds):
        if enabled is False:
            return ds
        return ds.cache(enabled if isinstance(enabled, str) else "")

    return stage


def shuffle(buffer_size: int, seed: int) -> Stage:
    # reshuffle_each_iteration with a fixed seed: a new order every epoch, the same
    # sequence of orders every run.
    def stage(ds):
        return ds.shuffle(max(1, buffer_size), seed=seed, reshuffle_each_iteration=True)

    return stage


def random_crop(max_length: int | None, seed: int) -> Stage:
    """Crops sequences longer than `max_length` to a random window (training only).

    The window start comes from `Dataset.random(seed)` zipped alongside, so crops are
    reproducible for a seed and differ from epoch to epoch.
    """

    def stage(ds):
        if not max_length:
            return ds
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def crop(seq, r):
            extra = tf.maximum(tf.shape(seq, out_type=tf.int64)[0] - max_length, 0)
            start = tf.math.floormod(tf.abs(r), extra + 1)
            return seq[start : start + max_length]

        return tf.data.Dataset.zip((ds, randoms)).map(crop)

    return stage


def min_length(length: int) -> Stage:
    """Drops sequences shorter than `length` (e.g. 2 for next-step prediction)."""

    def stage(ds):
        return ds.filter(lambda seq: tf.shape(seq)[0] >= length)

    return stage


def parallel_map(fn: Callable, deterministic: bool = True) -> Stage:
    # deterministic=True keeps output order equal to input order whatever the thread
    # timing; that is what makes a seeded pipeline reproducible.
    def stage(ds):
        return ds.map(fn, num_parallel_calls=AUTOTUNE, deterministic=deterministic)

    return stage


def pad_batch(batch_size: int, drop_remainder: bool = False) -> Stage:
    """Pads each batch to its own longest element (zeros; also zero sample weights)."""

    def stage(ds):
        return ds.padded_batch(batch_size, drop_remainder=drop_remainder)

    return stage


def bucket_batch(
    batch_size: int,
    boundaries: Sequence[int],
    length_fn: Callable | None = None,
) -> Stage:
    """Groups elements by length at `boundaries`, then pads each batch to its longest.

    `length_fn` receives the element (unpacked if it is a tuple) and returns its
    length; by default, the length of its first tensor (of the first input, when the
    inputs are a dict or a tuple).
    """
    if length_fn is None:

        def length_fn(*element):
            return tf.shape(tf.nest.flatten(element)[0])[0]

    def stage(ds):
        def element_length(*element):
            return length_fn(*element)

        return ds.bucket_by_sequence_length(
            element_length,
            bucket_boundaries=list(boundaries),
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=False,
        )

    return stage


def prefetch() -> Stage:
    return lambda ds: ds.prefetch(AUTOTUNE)


def shard_by_data() -> Stage:
    """Multi-worker training: shard elements, not files (the data are in memory)."""

    def stage(ds):
        options = tf.data.Options()
        policy = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = policy
        return ds.with_options(options)

    return stage


def apply(ds: tf.data.Dataset, stages: Sequence[Stage]) -> tf.data.Dataset:
    for stage in stages:
        ds = stage(ds)
    return ds


# --------------------------------------------------------------------------- pipelines


def next_step(seq):
    """(T, F) -> (inputs x[:-1], targets x[1:], sample weights ones(T-1)).

    The weights become 0 on padded steps after `pad_batch`, which is how padding stays
    out of the loss: next-step prediction, the JSB NLL convention.
    """
    weights = tf.ones(tf.shape(seq)[:1] - 1, dtype=seq.dtype)
    return seq[:-1], seq[1:], weights


def sequence_pipeline(
    sequences: Sequence[np.ndarray],
    data: DataConfig,
    *,
    training: bool,
    seed: int,
    transform: Callable = next_step,
    min_len: int = 2,
    augment: Sequence[Stage] = (),
) -> tf.data.Dataset:
    """Variable-length sequences -> shuffled, cropped, transformed, padded batches.

    Args:
        sequences: arrays (T_i, *features).
        data: batch size, shuffle buffer, bucketing, crop length and caching.
        training: shuffles and crops only when True; evaluation sees every sequence
            whole, in order.
        seed: the config's seed.
        transform: element -> model inputs/targets/weights (default `next_step`).
        min_len: shorter sequences are dropped.
        augment: training-only stages on each cropped sequence, before `transform`
            (e.g. music's random transposition).
    """
    # Too-short sequences are dropped here rather than with a tf filter, so that the
    # dataset keeps a known length (Keras then knows the steps of an epoch).
    sequences = [s for s in sequences if len(s) >= min_len]
    stages = [cache(data.cache)]
    if training:
        stages += [
            shuffle(data.shuffle_buffer, seed),
            random_crop(data.max_length, seed + 1),
            *augment,
        ]
    stages.append(parallel_map(transform))
    if data.bucket_boundaries:
        stages.append(bucket_batch(data.batch_size, data.bucket_boundaries))
    else:
        stages.append(pad_batch(data.batch_size))
    stages += [shard_by_data(), prefetch()]
    return apply(from_sequences(sequences), stages)


def count_batches(ds: tf.data.Dataset) -> int:
    """Number of batches in a finite dataset (iterates it when TF cannot tell)."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(np.int64(0), lambda count, _: count + 1))
