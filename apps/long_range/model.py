"""The lab's model: inputs -> recurrent layers -> one linear head.

    model = build_model(cfg.model, task_spec, seed=cfg.seed)

Deliberately plain, so that the cell is the only thing that differs between the
rows of a study: token inputs are one-hot (or a learned embedding with
`model.embedding_dim`), float inputs go in as they are, then `model.num_layers`
layers of `model.cell`, then a Dense head on the last step ("last": adding,
parity, MNIST) or on every step ("sequence": the copy tasks). The layers form a
chain, which the probes (`probes.py`) rely on to step one recurrent layer by hand.
"""

from __future__ import annotations

import keras
import numpy as np

from lstmsuite.layers import get_layer_class

# Cells whose bias holds a gate that sets how long the state is kept: the LSTM
# family (`gate_blocks` blocks of `units`, the forget gate's at `forget_block`,
# the input gate's first when the forget gate is second) and the minimal RNNs,
# whose state is the same kind of leaky sum (minLSTM's f/(f+i); minGRU's 1 - z).
CHRONO_CELLS = (
    "lstm",
    "peephole",
    "cifg",
    "lstmp",
    "layernorm",
    "mogrifier",
    "minlstm",
    "mingru",
)


def chrono_init(layer, t_max: int, seed: int) -> None:
    """Chrono initialization (Tallec and Ollivier 2018, "Can recurrent neural
    networks warp time?"): forget-gate biases log(U(1, t_max - 1)) and input-gate
    biases their negatives, so the cell starts with memory time scales spread up
    to `t_max` steps instead of the 1 / (1 - sigmoid(1)) ~ 4 steps of the usual
    forget bias of 1. Over hundreds of steps that is the difference between a
    gradient that arrives and one that does not.

    The minimal RNNs get the same time scales: minLSTM's kept share
    f / (f + i) is u / (1 + u) with f = σ(log u) and i = σ(-log u), as in the
    LSTM; minGRU keeps 1 - z, so its z bias is -log u (1 - z = u / (1 + u))."""
    cell = layer.cell
    units, blocks = cell.units, cell.gate_blocks
    bias = None if getattr(cell, "bias", None) is None else np.asarray(cell.bias).copy()
    gate = getattr(cell, "retention_gate", None)
    if gate is None or bias is None or bias.shape != (blocks * units,):
        raise ValueError(
            f"chrono_init needs a forget or update gate's bias; {layer.name} has none"
        )
    # The block that keeps the state, its sign, and the input gate's block where
    # there is one (block 0 of (i, f, ...), as in LSTM and MinLSTM).
    keep, sign = gate
    opposite = 0 if sign > 0 and keep == 1 else None
    rng = np.random.default_rng(seed)
    forget = np.log(rng.uniform(1.0, max(t_max - 1, 1.0 + 1e-6), size=units))
    bias[keep * units : (keep + 1) * units] = sign * forget
    if opposite is not None:
        bias[opposite * units : (opposite + 1) * units] = -forget
    cell.bias.assign(bias.astype(bias.dtype))


def build_model(model_cfg, spec: dict, *, seed: int) -> keras.Model:
    """A built Keras model for a task described by `spec` (`task_spec`)."""
    if spec["vocab"]:
        inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
        if model_cfg.embedding_dim:
            embed = keras.layers.Embedding(
                spec["vocab"], model_cfg.embedding_dim, name="embedding"
            )
        else:
            # One-hot rows, frozen: the classic input of these tasks.
            embed = keras.layers.Embedding(
                spec["vocab"],
                spec["vocab"],
                embeddings_initializer="identity",
                trainable=False,
                name="one_hot",
            )
        x = embed(inputs)
    else:
        inputs = keras.Input(shape=(None, spec["features"]), name="values")
        x = inputs
    layer_class = get_layer_class(model_cfg.cell)
    recurrent = []
    for k in range(model_cfg.num_layers):
        last = k == model_cfg.num_layers - 1
        layer = layer_class(
            model_cfg.units,
            return_sequences=spec["output"] == "sequence" or not last,
            dropout=model_cfg.dropout,
            recurrent_dropout=model_cfg.recurrent_dropout,
            seed=seed + 10 * k,
            name=f"recurrent{k}",
            **model_cfg.cell_options,
        )
        recurrent.append(layer)
        y = layer(x)
        if model_cfg.residual and x.shape[-1] == y.shape[-1] and y.ndim == x.ndim:
            y = keras.layers.Add(name=f"residual{k}")([x, y])
        if model_cfg.inter_layer_dropout and not last:
            y = keras.layers.Dropout(
                model_cfg.inter_layer_dropout, seed=seed + k, name=f"dropout{k}"
            )(y)
        x = y
    # The head in float32: logits and sums stay exact under mixed precision.
    outputs = keras.layers.Dense(spec["classes"], dtype="float32", name="head")(x)
    model = keras.Model(inputs, outputs, name=f"long_range_{model_cfg.cell}")
    if model_cfg.chrono_init:
        for k, layer in enumerate(recurrent):
            chrono_init(layer, model_cfg.chrono_init, seed + k)
    return model
