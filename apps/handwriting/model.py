"""The handwriting model: CNN features per column, bidirectional LSTMs, CTC.

    lstmsuite train handwriting --config configs/handwriting/digits_lines.yaml \
        --set model.cell=gru --set model.num_layers=3

inputs: image (B, H, W, 1) and width (B,), the real width of each padded image.

    image -> [Conv 3x3 -> BatchNorm -> ReLU -> ColumnMask -> MaxPool] x blocks
          -> columns as frames (B, T, H' * C) -> Dense -> dropout
          -> [Bidirectional(cell)] x num_layers (masked beyond each image's frames)
          -> dropout -> Dense(classes) -> log-softmax (B, T, classes)

`model.conv_pools` gives each block's (height, width) pooling; the product of the
widths is the horizontal downsampling (4 by default: T = ceil(W / 4)), which the
data pipeline uses to count each image's frames. Class 0 is the CTC blank.

Padding never leaks into a real image's frames: `ColumnMask` zeroes every column
beyond an image's width after each convolution (ReLU outputs are >= 0, so a max
pool over a real and a zeroed column equals the pool of the real one alone, as
without padding), and the recurrent layers are masked beyond its frames (the
backward direction starts at the image's own last frame).
"""

from __future__ import annotations

import math

import keras

from lstmsuite.pipelines import ctc
from lstmsuite.pipelines.stacks import recurrent_layers

PACKAGE = "lstmsuite_handwriting"


def downsampling(model_cfg) -> int:
    """How many image columns make one output frame."""
    return math.prod(int(pool[1]) for pool in model_cfg.conv_pools)


def check_model_config(model_cfg, height: int) -> None:
    """Errors that name the config key before Keras fails somewhere deep."""
    from lstmsuite.pipelines.config import ConfigError

    pools = model_cfg.conv_pools
    if len(pools) != len(model_cfg.conv_filters):
        raise ConfigError(
            f"model.conv_pools: one (height, width) pair per conv block: "
            f"{len(model_cfg.conv_filters)} conv_filters but {len(pools)} pools"
        )
    for i, pool in enumerate(pools):
        if len(pool) != 2 or min(pool) < 1:
            raise ConfigError(
                f"model.conv_pools[{i}]: expected [height, width] >= 1, got {pool}"
            )
    if math.prod(p[0] for p in pools) > height:
        raise ConfigError(
            f"model.conv_pools: the pools shrink the height by more than "
            f"data.height={height}"
        )


def build_model(model_cfg, height: int, num_classes: int, seed: int = 0):
    """A functional model {"image", "width"} -> per-frame log-probabilities."""
    check_model_config(model_cfg, height)
    image = keras.Input((height, None, 1), name="image")
    width = keras.Input((), dtype="int32", name="width")
    x, stride, rows = image, 1, height
    for i, (filters, pool) in enumerate(
        zip(model_cfg.conv_filters, model_cfg.conv_pools)
    ):
        for j in range(model_cfg.convs_per_block):
            x = keras.layers.Conv2D(
                filters, 3, padding="same", use_bias=False, name=f"conv{i}_{j}"
            )(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}_{j}")(x)
            x = keras.layers.ReLU()(x)
            x = ColumnMask(stride, name=f"mask{i}_{j}")([x, width])
        if tuple(pool) != (1, 1):
            x = keras.layers.MaxPooling2D(tuple(pool), padding="same")(x)
            stride *= pool[1]
            rows = -(-rows // pool[0])
    # Every column becomes one frame: (B, H', T, C) -> (B, T, H' * C).
    x = keras.layers.Permute((2, 1, 3))(x)
    x = keras.layers.Reshape((-1, rows * model_cfg.conv_filters[-1]))(x)
    if model_cfg.feature_units:
        x = keras.layers.Dense(model_cfg.feature_units, activation="relu")(x)
    if model_cfg.feature_dropout:
        x = keras.layers.Dropout(model_cfg.feature_dropout, seed=seed)(x)
    mask = FrameMask(stride, name="frame_mask")([x, width])

    x = recurrent_layers(x, model_cfg, mask=mask, seed=seed)
    if model_cfg.output_dropout:
        x = keras.layers.Dropout(model_cfg.output_dropout, seed=seed + 99)(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="classes")(x)
    log_probs = LogSoftmax(name="log_probs")(logits)
    return keras.Model(
        {"image": image, "width": width}, log_probs, name=f"ctc_{model_cfg.cell}"
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class ColumnMask(ctc.ZeroBeyondLength):
    """Zeroes the columns of (B, H, W, C) features beyond each image's real width
    (`ceil(width / stride)` at this resolution)."""

    def __init__(self, stride: int = 1, axis: int = 2, **kwargs):
        super().__init__(stride, axis, **kwargs)


# The mask, log-softmax and loss are the shared ones (`lstmsuite.pipelines.ctc`);
# these subclasses keep the names that handwriting runs saved before they moved.


@keras.saving.register_keras_serializable(package=PACKAGE)
class FrameMask(ctc.LengthMask):
    """(frames (B, T, F), width (B,)) -> boolean (B, T): the frames of the image."""

    def __init__(self, stride: int = 4, **kwargs):
        super().__init__(stride, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogSoftmax(ctc.LogSoftmax):
    pass


@keras.saving.register_keras_serializable(package=PACKAGE)
class CTCLoss(ctc.CTCLoss):
    pass
