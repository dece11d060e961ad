"""The music model: a recurrent stack from `layers/` over piano-roll frames.

    lstmsuite train music --config configs/music/bach.yaml --set model.cell=gru

frames (B, T, 88) -> [dropout] -> recurrent_stack(cell, units, num_layers, ...)
-> [dropout] -> the next frame's distribution, `model.output`:

* `bernoulli`: Dense(88, sigmoid), the probability that each key sounds next, each
  key independent of the others.
* `nade`: an RNN-NADE output (`apps/music/nade.py`): the recurrent state gives the
  biases of a NADE over the next frame's keys, low to high. Its probabilities are
  conditionals `p(key d | keys below d)`, so the model also takes the next frame
  as a second input, `next_frames` (teacher forcing); the loss is unchanged.

The network only looks backwards (no bidirectional layer, no attention to the future),
so output t depends on frames 0..t only. Padding is at the end of a sequence, which
keeps it from affecting the real steps; generation relies on the same property.
"""

from __future__ import annotations

import keras

from lstmsuite.apps.music.nade import NADE
from lstmsuite.layers import recurrent_stack

NUM_KEYS = 88


def build_model(model_cfg, seed: int = 0) -> keras.Model:
    """A functional Keras model for a `MusicModelConfig`.

    Inputs: `frames` (B, T, 88), and for `output: nade` also `next_frames` (the
    targets). Output: (B, T, 88) probabilities (for NADE, the conditionals).
    """
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
    if model_cfg.output == "nade":
        next_frames = keras.Input(shape=(None, NUM_KEYS), name="next_frames")
        nade = NADE(NUM_KEYS, model_cfg.nade_units, dtype="float32", name="nade")
        probs = nade([x, next_frames])
        name = f"music_{model_cfg.cell}_nade"
        return keras.Model([frames, next_frames], probs, name=name)
    probs = keras.layers.Dense(
        NUM_KEYS, activation="sigmoid", dtype="float32", name="next_frame"
    )(x)
    return keras.Model(frames, probs, name=f"music_{model_cfg.cell}")


def is_nade(model: keras.Model) -> bool:
    """Whether a (loaded) music model has the NADE output."""
    return any(isinstance(layer, NADE) for layer in model.layers)


def context_model(model: keras.Model) -> keras.Model:
    """frames (B, T, 88) -> the context the NADE reads at each step (B, T, C)."""
    context = model.get_layer("nade").input[0]
    return keras.Model(model.inputs[0], context, name=f"{model.name}_context")


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
