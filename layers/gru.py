"""`GRUCell` and `GRU`: the gated recurrent unit.

    z = σ(W_z x + U_z h + b_z)      r = σ(W_r x + U_r h + b_r)
    reset_after=True:   g = tanh(W_h x + b_h + r * (U_h h + b'_h))
    reset_after=False:  g = tanh(W_h x + U_h (r * h) + b_h)
    h' = z * h + (1 - z) * g

Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder"
(`reset_after=False` is the paper's form; `True` is cuDNN's and the Keras default).
Weights, names and gate order (z, r, h) are those of `keras.layers.GRU`: with
`reset_after=True` the bias has shape (2, 3 * units), input and recurrent bias.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.recurrent import (
    RecurrentCell,
    RecurrentLayer,
    check_use_cudnn,
    cudnn_inner_loop,
)


@keras.saving.register_keras_serializable(package="lstmsuite")
class GRUCell(RecurrentCell):
    """Cell class for the GRU layer (one time step).

    Takes the arguments of `layers.LSTMCell` except those about a cell state
    (`unit_forget_bias`, `zoneout_cell`, `cell_clip`); `zoneout_hidden` applies to
    h and `recurrent_dropout_mode="semeniuta"` to the candidate g.

    Args:
        units: Positive integer, dimensionality of the output space.
        reset_after: Apply the reset gate after the recurrent matmul (True, the
            cuDNN/Keras default) or before it (False, Cho et al.).
        **kwargs: The arguments of `layers.LSTMCell` listed above.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List `[h]` with the previous state.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> layer = keras.layers.RNN(GRUCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gate_blocks = 3
    forget_block = None
    has_cell_state = False

    def __init__(self, units, reset_after=True, **kwargs):
        for name in ("unit_forget_bias", "cell_clip"):
            if name in kwargs:
                raise ValueError(
                    f"GRUCell has no cell state: argument `{name}` is not supported. "
                    f"Received: {name}={kwargs[name]!r}"
                )
        super().__init__(units, unit_forget_bias=False, **kwargs)
        self.reset_after = bool(reset_after)

    @property
    def bias_shape(self):
        # Same layout as keras.layers.GRU: row 0 input bias, row 1 recurrent bias.
        if self.reset_after:
            return (2, self.gate_units)
        return (self.gate_units,)

    def project_inputs(self, inputs, masks=None):
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + (self.bias[0] if self.reset_after else self.bias)
        return z

    def step(self, z, states, masks):
        h_tm1 = states[0]
        h_rec = self.variational(h_tm1, masks)
        units = self.units
        x_z, x_r, x_h = ops.split(z, 3, axis=-1)
        if self.reset_after:
            inner = ops.matmul(h_rec, self.recurrent_kernel)
            if self.bias is not None:
                inner = inner + self.bias[1]
            r_z, r_r, r_h = ops.split(inner, 3, axis=-1)
            zt = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            g = self.activation(x_h + r * r_h)
        else:
            inner = ops.matmul(h_rec, self.recurrent_kernel[:, : 2 * units])
            r_z, r_r = ops.split(inner, 2, axis=-1)
            zt = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            g = self.activation(
                x_h + ops.matmul(r * h_rec, self.recurrent_kernel[:, 2 * units :])
            )
        g = self.semeniuta(g, masks)
        h = zt * h_tm1 + (1.0 - zt) * g
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        for name in ("unit_forget_bias", "zoneout_cell", "cell_clip"):
            config.pop(name)
        return {**config, "reset_after": self.reset_after}


@keras.saving.register_keras_serializable(package="lstmsuite")
class GRU(RecurrentLayer):
    """Gated Recurrent Unit layer (Cho et al. 2014).

    A drop-in for `keras.layers.GRU` with the same weights, plus
    `recurrent_dropout_mode` and `zoneout_hidden`. On a GPU with the TensorFlow
    backend the configuration cuDNN computes (tanh/sigmoid, `reset_after=True`,
    no recurrent dropout or zoneout, not unrolled) runs on the cuDNN kernel.

    Args:
        units: Positive integer, dimensionality of the output space.
        use_cudnn: `"auto"` (default): use the cuDNN kernel on a GPU when the
            configuration allows it; True: the same, but a ValueError where it
            cannot; False: never.
        **kwargs: The arguments of `GRUCell` and of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`) and `keras.layers.Layer`.

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: List `[h]` or a tensor `h`.

    Example:

    >>> GRU(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = GRUCell

    def __init__(self, units, use_cudnn="auto", **kwargs):
        self.use_cudnn = check_use_cudnn(use_cudnn)
        super().__init__(units, **kwargs)

    def fast_inner_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        return cudnn_inner_loop(
            self,
            keras.src.backend.gru,
            not (cell.recurrent_dropout or cell.zoneout_hidden),
            sequences,
            initial_state,
            mask,
            training,
            reset_after=cell.reset_after,
        )

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}
