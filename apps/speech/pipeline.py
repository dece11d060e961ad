"""tf.data pipelines of the speech app: waveforms -> log-mel -> padded batches.

    python -m pytest tests/apps/speech/test_pipeline.py

    (audio, text) -> [shuffle] -> [perturb] -> log_mel -> [SpecAugment] -> [deltas]
                  -> targets -> bucket/pad batch -> prefetch

(With cepstra and SpecAugment's frequency masks on mel bins, training runs
log-mel bins -> [mask bins] -> cepstra, normalization -> [time masks] instead.)

Recordings of a fixed split are featurized once and cached when nothing perturbs
their waveform (validation, test, training without `data.perturb`); composed
training strings (task ctc) are new every epoch, so never cached. The model inputs are
`{"features": (T, features.dim), "length": T}`; the targets are the class id (task
classify) or the CTC row `[frames, label_1, ..., label_n]` with `frames =
ceil(T / frame_stack)`, the model's output frames for this utterance. Batches are
padded to their longest member (zeros), and the model masks every frame beyond
`length`, so padding never changes a result.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lstmsuite.apps.speech.features import (
    featurizer,
    masks_mel_bins,
    perturb,
    spec_augment,
    vtlp_factor,
    with_deltas,
)
from lstmsuite.pipelines import data as stages


def waveforms(utterances) -> tf.data.Dataset:
    """A split's recordings as (audio, text), in order."""
    audio = stages.from_sequences(utterances.audio, dtype=np.float32)
    texts = tf.data.Dataset.from_tensor_slices(tf.constant(utterances.texts))
    return tf.data.Dataset.zip((audio, texts))


def features(ds, data_cfg, *, training: bool, seed: int, fixed: bool = True):
    """(audio, text) -> (features, text); training examples are perturbed (speed,
    noise; VTLP warps their filter bank) before, and SpecAugmented after, the
    features (with cepstra, after the log-mel bins, which SpecAugment then turns
    into the features)."""
    augment = data_cfg.spec_augment
    augmenting = training and bool(augment.freq_masks or augment.time_masks)
    on_bins = augmenting and masks_mel_bins(data_cfg.features, augment)
    featurize = featurizer(data_cfg.sample_rate, data_cfg.features, bins_only=on_bins)
    wave = data_cfg.perturb
    perturbing = training and wave.active
    to_features = stages.parallel_map(lambda audio, text: (featurize(audio), text))

    def perturbed_features(example, s):
        warp = None if wave.vtlp is None else vtlp_factor(wave, s)
        return featurize(perturb(example[0], wave, s), warp), example[1]

    if fixed and not perturbing:
        # The features of fixed clips are the same every epoch: compute them once.
        ds = stages.apply(ds, [to_features, stages.cache(data_cfg.cache)])
    if fixed and training:
        ds = stages.shuffle(data_cfg.shuffle_buffer, seed)(ds)
    if perturbing:
        ds = stages.parallel_map(perturbed_features)(with_seeds(ds, seed + 2))
    elif not fixed:
        ds = to_features(ds)
    if augmenting:
        finish = data_cfg.features if on_bins else None
        ds = with_seeds(ds, seed + 1).map(
            lambda example, s: (
                spec_augment(example[0], augment, s, finish),
                example[1],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if data_cfg.features.deltas:
        # After SpecAugment: the deltas are those of the features the model sees.
        ds = ds.map(
            lambda feats, text: (with_deltas(feats, data_cfg.features), text),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds


def with_seeds(ds, seed: int):
    """(example, (2,) seed) pairs: a seeded stream, new every epoch."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip((ds, seeds.batch(2, drop_remainder=True)))


def inputs(feats):
    return {"features": feats, "length": tf.shape(feats)[0]}


def class_targets(classes: list[str]):
    """(features, text) -> (inputs, class id); a text outside `classes` fails."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(classes), tf.range(len(classes), dtype=tf.int32)
        ),
        default_value=-1,
    )

    def make(feats, text):
        label = table.lookup(text)
        tf.debugging.assert_non_negative(label, message="a transcript is not a class")
        return inputs(feats), label

    return make


def ctc_targets(alphabet, frame_stack: int):
    """(features, text) -> (inputs, [frames, labels...])."""
    table = alphabet.lookup_table()

    def make(feats, text):
        labels = table.lookup(tf.strings.unicode_split(text, "UTF-8"))
        tf.debugging.assert_non_negative(
            labels, message="a transcript has a character outside the alphabet"
        )
        frames = -(-tf.shape(feats)[0] // frame_stack)
        return inputs(feats), tf.concat([[frames], tf.cast(labels, tf.int32)], 0)

    return make


def batches(ds, data_cfg, *, training: bool, batch_size: int | None = None):
    """Pads per batch; training batches grouped by length with bucket_boundaries.

    Validation keeps plain padded batches: their number is then known, which
    Keras needs to run validation without a "ran out of data" warning."""
    size = batch_size or data_cfg.batch_size
    if training and data_cfg.bucket_boundaries:
        batch = stages.bucket_batch(
            size, data_cfg.bucket_boundaries, length_fn=lambda x, *_: x["length"]
        )
    else:
        batch = stages.pad_batch(size)
    return stages.apply(ds, [batch, stages.shard_by_data(), stages.prefetch()])


def file_batches(audio: list[np.ndarray], data_cfg, batch_size: int):
    """Decoded files -> batches of model inputs, in order (for `predict`)."""
    ds = stages.from_sequences(audio, dtype=np.float32)
    featurize = featurizer(data_cfg.sample_rate, data_cfg.features)
    ds = ds.map(lambda a: inputs(with_deltas(featurize(a), data_cfg.features)))
    return stages.apply(ds, [stages.pad_batch(batch_size), stages.prefetch()])
