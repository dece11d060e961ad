"""Helpers shared by the layer tests: weights, backend-neutral gradients."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
from keras import ops

from lstmsuite.layers import (
    CIFGLSTM,
    GRU,
    LSTM,
    LSTMP,
    CIFGLSTMCell,
    GRUCell,
    LayerNormLSTM,
    LayerNormLSTMCell,
    LSTMCell,
    LSTMPCell,
    PeepholeLSTM,
    PeepholeLSTMCell,
)
from tests.layers import numpy_reference as ref_np

BACKEND = keras.backend.backend()

tensorflow_only = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="model.export() and tf.saved_model.load need the TensorFlow backend",
)

# Tiny shapes keep the suite fast.
BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 3
PROJ = 2  # proj_units of LSTMP

# name: (layer class, cell class, fixed layer kwargs, NumPy step, fixed step kwargs)
VARIANTS = {
    "lstm": (LSTM, LSTMCell, {}, ref_np.lstm_step, {}),
    "peephole": (PeepholeLSTM, PeepholeLSTMCell, {}, ref_np.peephole_step, {}),
    "cifg": (CIFGLSTM, CIFGLSTMCell, {}, ref_np.cifg_step, {}),
    "lstmp": (LSTMP, LSTMPCell, {"proj_units": PROJ}, ref_np.lstmp_step, {}),
    "layernorm": (LayerNormLSTM, LayerNormLSTMCell, {}, ref_np.layer_norm_step, {}),
    "gru_reset_after": (
        GRU,
        GRUCell,
        {"reset_after": True},
        ref_np.gru_step,
        {"reset_after": True},
    ),
    "gru_reset_before": (
        GRU,
        GRUCell,
        {"reset_after": False},
        ref_np.gru_step,
        {"reset_after": False},
    ),
}


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def random_inputs(seed=0, shape=(BATCH, TIME, FEATURES), dtype="float32"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def randomize_weights(layer, seed=0, scale=0.5):
    """Gives every weight of `layer` random normal values (biases included)."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0.0, scale, w.shape).astype(w.dtype) for w in layer.get_weights()]
    )


def cell_weights(layer):
    """The weights of a sequence layer's cell (or of a cell), by name, in float64."""
    cell = getattr(layer, "cell", layer)
    return {v.name: to_numpy(v).astype(np.float64) for v in cell.weights}


def weighted_sum(outputs):
    """A scalar that depends on every output entry with a fixed random weight."""
    total = 0.0
    for n, output in enumerate(keras.tree.flatten(outputs)):
        weights = np.random.default_rng(100 + n).normal(size=tuple(output.shape))
        total = total + ops.sum(output * ops.convert_to_tensor(weights, output.dtype))
    return total


def loss_and_grads(layer, inputs, **call_kwargs):
    """`weighted_sum(layer(inputs))` and its gradients w.r.t. inputs and weights.

    Returns `(outputs, loss, grad_inputs, [grad of each trainable variable])` as
    NumPy. Uses `tf.GradientTape` on TensorFlow and `jax.grad` on JAX.
    """
    if not layer.built:
        layer(inputs, **call_kwargs)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, **call_kwargs)
            loss = weighted_sum(outputs)
        grads = tape.gradient(loss, [x] + list(layer.trainable_variables))
    elif BACKEND == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(x, values):
            outputs, _ = layer.stateless_call(values, non_trainable, x, **call_kwargs)
            return weighted_sum(outputs), outputs

        grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
        (loss, outputs), (grad_x, grad_w) = jax.jit(grad_fn)(
            jax.numpy.asarray(inputs), trainable
        )
        grads = [grad_x] + list(grad_w)
    else:
        pytest.skip(f"no gradient helper for the {BACKEND} backend")
    grads = [to_numpy(g) for g in grads]
    outputs = keras.tree.map_structure(to_numpy, outputs)
    return outputs, float(to_numpy(loss)), grads[0], grads[1:]


def loss_function(layer, **call_kwargs):
    """`f(inputs, trainable_values) -> weighted_sum(outputs)` as a float.

    Compiled once on JAX (the finite differences call it many times).
    """
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss_fn(x, values):
        outputs, _ = layer.stateless_call(values, non_trainable, x, **call_kwargs)
        return weighted_sum(outputs)

    if BACKEND == "jax":
        import jax

        loss_fn = jax.jit(loss_fn)
    return lambda x, values: float(to_numpy(loss_fn(x, values)))


def documented_arguments(cls) -> list[str]:
    """The argument names of the `Args:` section of `cls`'s docstring, in order.

    An entry is a line at the section's indentation, `name: description` or, for
    arguments documented together, `name_a, name_b: description`; `**kwargs`
    reads as `kwargs`. Deeper-indented lines continue the entry above.
    """
    lines = inspect.getdoc(cls).splitlines()
    start = lines.index("Args:") + 1
    indent = len(lines[start]) - len(lines[start].lstrip())
    names = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break  # the next section
        if line.strip() and len(line) - len(line.lstrip()) == indent:
            head = line.strip().split(":", 1)[0]
            names += [name.strip().lstrip("*") for name in head.split(",")]
    return names
