"""The CTC pieces every recognizer shares: the loss, the log-softmax that ends a
mask, the frame mask from per-example lengths, and the zeroing of padded steps
between convolutions.

    log_probs = LogSoftmax()(Dense(alphabet.num_classes)(frames))    # (B, T, V)
    model.compile(loss=CTCLoss())   # targets: [frames, label_1, ..., label_n, 0...]

Label 0 is the blank (and the padding of a target row): `lstmsuite.pipelines.
alphabet.Alphabet` numbers characters from 1. Decoding (greedy, beam, lexicon) is in
`lstmsuite.pipelines.decoding`, the error rates in `lstmsuite.pipelines.metrics`.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "lstmsuite"


def steps_within(lengths, stride: int, steps):
    """Boolean (B, steps): True on each example's first `ceil(length / stride)`
    steps (`stride`: input steps per step after downsampling)."""
    valid = -(-ops.cast(lengths, "int32") // stride)
    return ops.arange(steps, dtype="int32")[None, :] < valid[:, None]


@keras.saving.register_keras_serializable(package=PACKAGE)
class LengthMask(keras.layers.Layer):
    """(frames (B, T, F), lengths (B,)) -> boolean (B, T): True on each example's
    first `ceil(length / stride)` frames (`stride`: how many input steps one frame
    covers after downsampling)."""

    def __init__(self, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, inputs):
        frames, lengths = inputs
        return steps_within(lengths, self.stride, ops.shape(frames)[1])

    def compute_output_spec(self, inputs):
        frames = inputs[0]
        return keras.KerasTensor(frames.shape[:2], dtype="bool")

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroBeyondLength(keras.layers.Layer):
    """(features, lengths (B,)) -> the features with every step along `axis` at or
    beyond `ceil(length / stride)` set to zero.

    A convolution over time reads its neighbours: zeroing the padded steps after
    each convolution makes them look exactly like the zeros of "same" padding, so
    a batch's padding never changes a real step's features."""

    def __init__(self, stride: int = 1, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(stride) < 1:
            raise ValueError(
                f"ZeroBeyondLength: stride must be at least 1, got {stride}"
            )
        if int(axis) < 1:
            raise ValueError(
                f"ZeroBeyondLength: axis must be a step axis (1 or more), got {axis}"
            )
        self.stride = int(stride)
        self.axis = int(axis)

    def call(self, inputs):
        x, lengths = inputs
        within = steps_within(lengths, self.stride, ops.shape(x)[self.axis])
        keep = ops.cast(within, x.dtype)  # (B, T)
        for _ in range(len(x.shape) - self.axis - 1):
            keep = keep[..., None]  # broadcast over the axes after the steps
        for _ in range(self.axis - 1):
            keep = keep[:, None]  # and over those between batch and steps
        return x * keep

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "axis": self.axis}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogSoftmax(keras.layers.Layer):
    """Log-softmax over classes that ends the recurrent layers' mask here: the loss
    gets one value per example, and a (B, T) mask would be broadcast against it."""

    def call(self, logits):
        return ops.log_softmax(logits, axis=-1)

    def compute_mask(self, inputs, previous_mask=None):
        return None


@keras.saving.register_keras_serializable(package=PACKAGE)
class CTCLoss(keras.losses.Loss):
    """CTC loss of per-frame log-probabilities against a target row
    `[frames, label_1, ..., label_n, 0, ...]` (labels 1..V, 0 = padding/blank).

    One value per example: -log p(labels | input), summed over its frames,
    averaged over the batch.
    """

    def __init__(self, name="ctc", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        frames, labels = y_true[:, 0], y_true[:, 1:]
        label_length = ops.sum(ops.cast(labels > 0, "int32"), axis=1)
        return ops.ctc_loss(labels, y_pred, label_length, frames, mask_index=0)
