"""tf.data pipelines of the handwriting app: line images -> padded CTC batches.

    python -m pytest tests/apps/handwriting/test_pipeline.py

A split's `dataset()` gives `(image (h, w), text)` pairs, decoded from files or
generated inside tf.data (data.py). The stages here, all inside tf.data:

    to_height -> [cache] -> [shuffle] -> ctc_example -> bucket/pad batch -> prefetch

- `to_height`: resize to `data.height` keeping the aspect ratio (the width follows;
  at most `data.max_width`), add a channel axis.
- `ctc_example`: the model inputs `{"image": (H, W, 1), "width": W}` and the target
  row `[frames, label_1, ..., label_n]`: `frames = ceil(W / downsampling)` is how
  many output frames of the model belong to this image (the CNN shrinks the width
  by `downsampling`), the labels are the alphabet ids (1..V, 0 is the blank). CTC
  needs at least one frame per label plus one between two equal labels; a training
  image too narrow for its text is widened with background to that many frames.
- batches are padded to their own widest image (zeros: background) and longest
  label row (zeros: no label); training batches are grouped by width first when
  `data.bucket_boundaries` is set.

The model masks the padded columns and frames with the `width` input, and the loss
reads `frames` and the label count from the target row, so padding never changes a
result: an image gives the same output alone or in any batch.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from lstmsuite.pipelines import data as stages
from lstmsuite.pipelines.alphabet import Alphabet


def to_height(height: int, max_width: int):
    """(h, w) image -> (height, w * height / h rounded, 1), width capped."""

    def resize(image, text):
        shape = tf.shape(image)
        h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
        width = tf.cast(tf.round(w * height / tf.maximum(h, 1.0)), tf.int32)
        width = tf.clip_by_value(width, 1, max_width)
        resized = tf.image.resize(image[..., None], [height, width], antialias=True)
        return tf.clip_by_value(resized, 0.0, 1.0), text

    return resize


def ctc_example(alphabet: Alphabet, downsampling: int, widen: bool = True):
    """(image, text) -> ({"image", "width"}, [frames, labels...]) for training."""
    table = alphabet.lookup_table()

    def make(image, text):
        labels = table.lookup(tf.strings.unicode_split(text, "UTF-8"))
        tf.debugging.assert_non_negative(
            labels, message="a transcription has a character outside the alphabet"
        )
        labels = tf.cast(labels, tf.int32)
        width = tf.shape(image)[1]
        frames = -(-width // downsampling)  # ceil
        if widen:
            repeats = tf.reduce_sum(tf.cast(labels[1:] == labels[:-1], tf.int32))
            needed = tf.size(labels) + repeats
            extra = tf.maximum(needed - frames, 0) * downsampling
            image = tf.pad(image, [[0, 0], [0, extra], [0, 0]])
            frames += extra // downsampling
            width += extra
        target = tf.concat([[frames], labels], axis=0)
        return {"image": image, "width": width}, target

    return make


def with_inputs(image, text):
    """(image, text) -> ({"image", "width"}, text) for evaluation."""
    return {"image": image, "width": tf.shape(image)[1]}, text


def batch_stage(data_cfg, batch_size: int | None = None):
    """Pads per batch, grouped by width when `data.bucket_boundaries` is set."""
    size = batch_size or data_cfg.batch_size
    if data_cfg.bucket_boundaries:
        return stages.bucket_batch(
            size, data_cfg.bucket_boundaries, length_fn=lambda x, *_: x["width"]
        )
    return stages.pad_batch(size)


def line_pipeline(
    split: Any,
    data_cfg,
    alphabet: Alphabet,
    downsampling: int,
    *,
    training: bool,
    seed: int,
) -> tf.data.Dataset:
    """A split -> batches of (inputs, targets) for `model.fit` (see the docstring).

    Lines of a fixed split (files, validation/test digits) are resized once and
    cached; generated training lines are new every epoch, so never cached.
    """
    fixed = getattr(split, "fixed", True)
    chain = [stages.parallel_map(to_height(data_cfg.height, data_cfg.max_width))]
    if fixed:
        chain.append(stages.cache(data_cfg.cache))
        if training:
            chain.append(stages.shuffle(data_cfg.shuffle_buffer, seed))
    chain += [
        stages.parallel_map(ctc_example(alphabet, downsampling)),
        # Validation keeps plain padded batches: their number is then known, which
        # Keras needs to run validation without a "ran out of data" warning.
        batch_stage(data_cfg) if training else stages.pad_batch(data_cfg.batch_size),
        stages.shard_by_data(),
        stages.prefetch(),
    ]
    return stages.apply(split.dataset(), chain)


def eval_pipeline(split: Any, data_cfg, batch_size: int | None = None):
    """A split -> batches of (inputs, texts), every line once (for decoding)."""
    chain = [
        stages.parallel_map(to_height(data_cfg.height, data_cfg.max_width)),
        stages.parallel_map(with_inputs),
        batch_stage(data_cfg, batch_size),
        stages.prefetch(),
    ]
    return stages.apply(split.dataset(), chain)


def image_batches(paths: list[str], data_cfg, batch_size: int | None = None):
    """Image files -> batches of model inputs, in order (for `predict`)."""
    from lstmsuite.apps.handwriting.data import read_image

    ds = tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
    ds = ds.map(lambda path: (read_image(path), path))
    chain = [
        stages.parallel_map(to_height(data_cfg.height, data_cfg.max_width)),
        stages.parallel_map(lambda image, path: with_inputs(image, path)[0]),
        stages.pad_batch(batch_size or data_cfg.batch_size),
        stages.prefetch(),
    ]
    return stages.apply(ds, chain)
