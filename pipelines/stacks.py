"""The recurrent stack of the recognizers (handwriting, speech), built layer by
layer from a model config.

    x = recurrent_layers(x, cfg.model, mask=mask, seed=cfg.seed)

Each layer is the cell's own sequence layer from `lstmsuite.layers`, wrapped in
`keras.layers.Bidirectional` when `bidirectional` (the default): the next layer
reads both directions' outputs, as in Graves et al. 2013, which a
`Bidirectional(DeepLSTM)` (two independent deep stacks) would not. `mask` keeps
padded steps out of both directions (the backward one starts at each example's
own last step). With `model.residual`, a layer whose input and output widths
match adds its input; `model.inter_layer_dropout` drops between layers.
"""

from __future__ import annotations

import keras

from lstmsuite.layers import get_layer_class


def recurrent_layers(x, model_cfg, *, mask=None, seed: int = 0, bidirectional=True):
    """`model_cfg.num_layers` recurrent layers over `x` (B, T, F) -> (B, T, F')."""
    layer_class = get_layer_class(model_cfg.cell)
    for k in range(model_cfg.num_layers):
        recurrent = layer_class(
            model_cfg.units,
            return_sequences=True,
            dropout=model_cfg.dropout,
            recurrent_dropout=model_cfg.recurrent_dropout,
            seed=seed + 10 * k,
            **model_cfg.cell_options,
        )
        if bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"birnn{k}")
        y = recurrent(x, mask=mask)
        residual = model_cfg.residual and x.shape[-1] == y.shape[-1]
        x = keras.layers.Add()([x, y]) if residual else y
        if model_cfg.inter_layer_dropout and k < model_cfg.num_layers - 1:
            x = keras.layers.Dropout(model_cfg.inter_layer_dropout, seed=seed + k)(x)
    return x
