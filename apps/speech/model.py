"""The speech models: log-mel frames -> recurrent stack -> a digit, or CTC.

    lstmsuite train speech --config configs/speech/digits.yaml --set model.cell=gru

inputs: features (B, T, feature_dim: mel bins or cepstra) and length (B,), each
utterance's real frames.

    features -> [Conv 3x3 -> BatchNorm -> ReLU -> zero the padding
                 -> MaxPool over frequency] x len(conv_filters)   (optional)
             -> FrameStack(k): k consecutive frames side by side (T / k steps)
             -> Dense(feature_units, relu) -> dropout
             -> [Bidirectional(cell) or cell] x num_layers (masked beyond length)
      classify: -> masked mean over time -> dropout -> Dense(classes) -> softmax
      ctc:      -> dropout -> Dense(characters + blank) -> log-softmax (B, T/k, V)

Stacking frames (`model.frame_stack`) shortens the sequences the recurrent layers
run over by k, which is most of the time of an epoch on a CPU, while every frame
still reaches the model; 10 ms frames stacked by 2 or 3 are finer than speech
sounds change.

`model.conv_filters` (default none) puts a small CNN over the (time, mel bin)
plane first, pooling only the frequency axis by `model.conv_pool` per block. Its
filters see a formant as a shape that may sit a few bins higher or lower: another
voice's vocal tract shifts the formants along the mel axis, and pooling over
frequency makes the features care less where exactly. It suits log-mel features
(neighbouring bins are neighbouring frequencies), not cepstra; on FSDD's held-out
speakers it took 40 log-mel bins from 67.0% to 73.5%, still short of 13 MFCCs
without it (apps/speech/README.md). After every
convolution the padded frames are set back to zero, so they look like the zeros
of "same" padding and never reach a real frame. The mask reaches the pooling
and the CTC loss reads each utterance's frames from its target row, so padding
never changes a result.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.pipelines.ctc import LengthMask, LogSoftmax, ZeroBeyondLength
from lstmsuite.pipelines.stacks import recurrent_layers

PACKAGE = "lstmsuite_speech"


@keras.saving.register_keras_serializable(package=PACKAGE)
class FrameStack(keras.layers.Layer):
    """(B, T, F) -> (B, ceil(T / k), k * F): k consecutive frames concatenated (the
    last group padded with zeros)."""

    def __init__(self, k: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(k) < 1:
            raise ValueError(f"FrameStack: k must be at least 1, got {k}")
        self.k = int(k)

    def call(self, x):
        if self.k == 1:
            return x
        steps, width = ops.shape(x)[1], x.shape[-1]
        pad = (-steps) % self.k
        x = ops.pad(x, [[0, 0], [0, pad], [0, 0]])
        return ops.reshape(x, (ops.shape(x)[0], -1, self.k * width))

    def compute_output_shape(self, shape):
        steps = None if shape[1] is None else -(-shape[1] // self.k)
        return (shape[0], steps, self.k * shape[-1])

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def build_model(model_cfg, task: str, feature_dim: int, num_classes: int, seed=0):
    """A functional model {"features", "length"} -> class probabilities (classify)
    or per-frame log-probabilities (ctc)."""
    feats = keras.Input((None, feature_dim), name="features")
    length = keras.Input((), dtype="int32", name="length")
    x = conv_frontend(feats, length, model_cfg, feature_dim)
    x = FrameStack(model_cfg.frame_stack, name="frame_stack")(x)
    if model_cfg.feature_units:
        x = keras.layers.Dense(model_cfg.feature_units, activation="relu")(x)
    if model_cfg.feature_dropout:
        x = keras.layers.Dropout(model_cfg.feature_dropout, seed=seed)(x)
    mask = LengthMask(model_cfg.frame_stack, name="frame_mask")([x, length])

    x = recurrent_layers(
        x, model_cfg, mask=mask, seed=seed, bidirectional=model_cfg.bidirectional
    )
    if task == "classify":
        x = keras.layers.GlobalAveragePooling1D(name="mean_over_time")(x, mask=mask)
    if model_cfg.output_dropout:
        x = keras.layers.Dropout(model_cfg.output_dropout, seed=seed + 99)(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="classes")(x)
    if task == "classify":
        outputs = keras.layers.Softmax(dtype="float32", name="probs")(logits)
    else:
        outputs = LogSoftmax(name="log_probs")(logits)
    name = f"{task}_{model_cfg.cell}"
    return keras.Model({"features": feats, "length": length}, outputs, name=name)


def conv_frontend(feats, length, model_cfg, feature_dim: int):
    """(B, T, F) -> (B, T, F' * filters): the optional CNN over (time, frequency);
    the features unchanged without `model.conv_filters`."""
    if not model_cfg.conv_filters:
        return feats
    plane = keras.layers.Reshape((-1, feature_dim, 1), name="plane")(feats)
    x = ZeroBeyondLength(name="pad_zero")([plane, length])
    bins = feature_dim
    for i, filters in enumerate(model_cfg.conv_filters):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = ZeroBeyondLength(name=f"pad_zero{i}")([x, length])
        if model_cfg.conv_pool > 1:
            x = keras.layers.MaxPooling2D(
                (1, model_cfg.conv_pool), padding="same", name=f"pool{i}"
            )(x)
            bins = -(-bins // model_cfg.conv_pool)
    width = bins * model_cfg.conv_filters[-1]
    return keras.layers.Reshape((-1, width), name="frames")(x)
