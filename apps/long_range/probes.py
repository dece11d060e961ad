"""Looking inside a trained (or untrained) model: gradient flow and gates.

    norms = state_gradient_norms(model, x, y, loss)   # (T,): ||dL/ds_t||
    gates = lstm_gates(model, x[:1])                  # i, f, o, c over time

`state_gradient_norms` runs the model's first recurrent layer one step at a time
through its cell, adds a zero tensor to the state after every step and asks a
`tf.GradientTape` for the loss gradient with respect to those zeros: the total
derivative dL/ds_t that backpropagation through time carries back to step t, by
the recurrence and by the step's own output. s_t is the cell's whole recurrent
state (h_t for a plain RNN and the GRU; h_t and c_t for the LSTM family; the
matrix memory of the mLSTM), so cells are compared on what they actually carry.
For a plain RNN it decays geometrically with the distance from the loss (the
vanishing gradient of Hochreiter 1991 and Bengio et al. 1994); the LSTM's cell
state keeps it alive.

`lstm_gates` recomputes an `LSTMCell`'s input, forget and output gates and cell
state from its weights, step by step, for a heat map of what the cell does with
its memory (on the copy task: the forget gate held open across the delay).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

from lstmsuite.layers import LSTMCell


def _chain(model):
    """The model's layers after the input, and the index of the first recurrent
    one (the model is a chain: `model.build_model`)."""
    import keras

    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    for k, layer in enumerate(layers):
        if hasattr(layer, "cell") and isinstance(layer, keras.layers.RNN):
            return layers, k
    raise ValueError(f"{model.name} has no recurrent layer to probe")


def step_through(model, x, perturb: list | None = None, training: bool = False):
    """The model's output on `x`, its first recurrent layer run step by step.

    `perturb`: a list that receives one list of zero tensors per step, added to
    the cell's states after that step (and to its output where the output is the
    first state), for gradients with respect to the states.
    """
    layers, k = _chain(model)
    h = tf.convert_to_tensor(x)
    for layer in layers[:k]:
        h = layer(h, training=training)
    rnn = layers[k]
    cell = rnn.cell
    batch = tf.shape(h)[0]
    states = cell.get_initial_state(batch)
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    outputs = []
    for t in range(h.shape[1]):
        out, states = cell(h[:, t], states, training=training)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if perturb is not None:
            zeros = [tf.zeros_like(s) for s in states]
            perturb.append(zeros)
            # Most cells output their first state (h): the output must carry
            # the same perturbation, or the step's own loss path is missed.
            first_is_output = out is states[0] or (
                out.shape == states[0].shape and bool(tf.reduce_all(out == states[0]))
            )
            states = [s + z for s, z in zip(states, zeros)]
            if first_is_output:
                out = states[0]
        outputs.append(out)
    h = tf.stack(outputs, axis=1) if rnn.return_sequences else outputs[-1]
    for layer in layers[k + 1 :]:
        h = layer(h, training=training)
    return h


def state_gradient_norms(model, x, y, loss_fn) -> np.ndarray:
    """`||dL/ds_t||` for t = 1..T, averaged over the examples of `x`.

    `loss_fn(y, prediction)` must return one loss per example (reduction
    "none"); each example's gradient is that of its own loss.
    """
    perturb: list = []
    with tf.GradientTape() as tape:
        prediction = step_through(model, x, perturb)
        tape.watch(perturb)
        losses = loss_fn(y, prediction)
        # Per-step losses (the copy tasks) are averaged per example, as training does.
        losses = tf.reshape(losses, [tf.shape(prediction)[0], -1])
        total = tf.reduce_sum(tf.reduce_mean(losses, axis=1))
    grads = tape.gradient(total, perturb)
    norms = []
    for step in grads:
        squares = [
            tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(g)[0], -1]), axis=1)
            for g in step
            if g is not None
        ]
        norms.append(tf.reduce_mean(tf.sqrt(tf.add_n(squares))))
    return np.asarray([float(n) for n in norms])


def lstm_gates(model, x) -> dict[str, np.ndarray]:
    """`{"input", "forget", "output", "cell"}`: (T, units) each, for the first
    example of `x`, from the model's first recurrent layer (an `LSTMCell`)."""
    layers, k = _chain(model)
    cell = layers[k].cell
    if type(cell) is not LSTMCell:
        raise ValueError(
            f"the gate heat map reads an LSTM's gates (model.cell: lstm); this run's "
            f"cell is {type(cell).__name__}"
        )
    h = tf.convert_to_tensor(x[:1])
    for layer in layers[:k]:
        h = layer(h)
    units = cell.units
    state, memory = tf.zeros([1, units]), tf.zeros([1, units])
    gates = {"input": [], "forget": [], "output": [], "cell": []}
    for t in range(h.shape[1]):
        z = cell.project_inputs(h[:, t]) + ops.matmul(state, cell.recurrent_kernel)
        zi, zf, zc, zo = tf.split(z, 4, axis=-1)
        i = cell.recurrent_activation(zi)
        f = cell.recurrent_activation(zf)
        o = cell.recurrent_activation(zo)
        memory = cell.clip_cell(f * memory + i * cell.activation(zc))
        state = o * cell.activation(memory)
        for name, value in (("input", i), ("forget", f), ("output", o)):
            gates[name].append(value[0])
        gates["cell"].append(memory[0])
    return {
        name: np.stack([np.asarray(v) for v in values])
        for name, values in gates.items()
    }
