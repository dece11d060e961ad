"""The music model: a recurrent stack from `layers/` over piano-roll frames.

    lstmsuite train music --config configs/music/bach.yaml --set model.cell=gru

frames (B, T, 88) -> [dropout] -> recurrent_stack(cell, units, num_layers, ...)
-> [dropout] -> Dense(88, sigmoid): the probability that each key sounds next.

The network only looks backwards (no bidirectional layer, no attention to the future),
so output t depends on frames 0..t only. Padding is at the end of a sequence, which
keeps it from affecting the real steps; generation relies on the same property.
"""

from __future__ import annotations

import keras

from lstmsuite.layers import recurrent_stack

NUM_KEYS = 88


def build_model(model_cfg, seed: int = 0) -> keras.Model:
    """A functional Keras model for a `MusicModelConfig`."""
    frames = keras.Input(shape=(None, NUM_KEYS), name="frames")
    x = frames
    if model_cfg.input_dropout:
        x = keras.layers.Dropout(model_cfg.input_dropout, seed=seed)(x)
    cell_kwargs = dict(
        dropout=model_cfg.dropout,
        recurrent_dropout=model_cfg.recurrent_dropout,
        seed=seed,
        name="recurrent",
        **model_cfg.cell_options,
    )
    x = recurrent_stack(
        model_cfg.units,
        num_layers=model_cfg.num_layers,
        cell=model_cfg.cell,
        residual=model_cfg.residual,
        inter_layer_dropout=model_cfg.inter_layer_dropout,
        return_sequences=True,
        **cell_kwargs,
    )(x)
    if model_cfg.output_dropout:
        x = keras.layers.Dropout(model_cfg.output_dropout, seed=seed + 1)(x)
    # float32 output even under a mixed-precision policy: the NLL needs it.
    probs = keras.layers.Dense(
        NUM_KEYS, activation="sigmoid", dtype="float32", name="next_frame"
    )(x)
    return keras.Model(frames, probs, name=f"music_{model_cfg.cell}")


@keras.saving.register_keras_serializable(package="lstmsuite")
class FrameNLL(keras.losses.Loss):
    """Binary cross-entropy summed over the 88 keys: nats per frame (the JSB NLL).

    With per-step sample weights (0 on padding) and the "mean_with_sample_weight"
    reduction, a batch's loss is exactly the mean NLL of its real frames.
    """

    def __init__(self, name="frame_nll", reduction="mean_with_sample_weight", **kw):
        super().__init__(name=name, reduction=reduction, **kw)

    def call(self, y_true, y_pred):
        bce = keras.losses.binary_crossentropy(y_true, y_pred)  # mean over keys
        return bce * NUM_KEYS
