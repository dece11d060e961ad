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
from lstmsuite.layers.keras_internals import keras_backend
from lstmsuite.layers.recurrent import (
    CellAttribute,
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
    check_use_cudnn,
    cudnn_inner_loop,
    reject_arguments,
)


@keras.saving.register_keras_serializable(package="lstmsuite")
class GRUCell(RecurrentCell):
    """Cell class for the GRU layer (one time step).

    Takes the arguments of `lstmsuite.layers.LSTMCell` except those about a cell state
    (`unit_forget_bias`, `zoneout_cell`, `cell_clip`), in the order of
    `keras.layers.GRUCell`; `zoneout_hidden` applies to h and
    `recurrent_dropout_mode="semeniuta"` to the candidate g.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate (`"tanh"`).
        recurrent_activation: Activation of the update and reset gates
            (`"sigmoid"`).
        use_bias: Whether the gates have a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of the input kernel, the recurrent kernel and the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Float in [0, 1). Fraction of the inputs to drop, one mask per
            sequence.
        recurrent_dropout: Float in [0, 1). Recurrent dropout rate.
        reset_after: Apply the reset gate after the recurrent matmul (True, the
            cuDNN/Keras default) or before it (False, Cho et al.).
        seed: Random seed for dropout and zoneout.
        recurrent_dropout_mode: `"variational"` (mask on h(t-1)) or
            `"semeniuta"` (mask on the candidate g), as in `lstmsuite.layers.LSTMCell`.
        zoneout_hidden: Float in [0, 1). Zoneout rate of h (Krueger et al. 2017).
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

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
    config_keys_not_taken = ("unit_forget_bias", "zoneout_cell", "cell_clip")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        recurrent_dropout_mode="variational",
        zoneout_hidden=0.0,
        **kwargs,
    ):
        arguments = arguments_of(locals())
        reset_after = arguments.pop("reset_after")
        # The LSTM's arguments about a cell state are errors here, named as such
        # (`zoneout_cell=0` is accepted: `RecurrentCell` rejects other rates).
        reject_arguments(
            "GRUCell", arguments, ("unit_forget_bias", "cell_clip"), "has no cell state"
        )
        super().__init__(unit_forget_bias=False, **arguments)
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
        return {**super().get_config(), "reset_after": self.reset_after}


@keras.saving.register_keras_serializable(package="lstmsuite")
class GRU(RecurrentLayer):
    """Gated Recurrent Unit layer (Cho et al. 2014).

    A drop-in for `keras.layers.GRU` with the same weights, plus
    `recurrent_dropout_mode` and `zoneout_hidden`. On a GPU with the TensorFlow
    backend the configuration cuDNN computes (tanh/sigmoid, `reset_after=True`,
    no recurrent dropout or zoneout, not unrolled) runs on the cuDNN kernel.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias: As in `GRUCell`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in
            `GRUCell`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers
            of the weights.
        activity_regularizer: Regularizer of the layer's output.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout, recurrent_dropout, seed: As in `GRUCell`.
        return_sequences: Whether to return the whole sequence or the last output.
        return_state: Whether to also return the last state `h`.
        go_backwards: If True, process the input backwards and return the
            reversed sequence.
        stateful: If True, the last state of each sample in a batch is the
            initial state of that sample in the next batch.
        unroll: If True, unroll the loop (faster for short sequences, more memory).
        reset_after: As in `GRUCell`.
        use_cudnn: `"auto"` (default): use the cuDNN kernel on a GPU when the
            configuration allows it; True: the same, but a ValueError where it
            cannot; False: never.
        recurrent_dropout_mode, zoneout_hidden: As in `GRUCell`.
        zero_output_for_mask: Whether masked steps output zeros (with
            `return_sequences`) instead of the previous output.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

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
    reset_after = CellAttribute()

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        recurrent_dropout_mode="variational",
        zoneout_hidden=0.0,
        zero_output_for_mask=False,
        **kwargs,
    ):
        arguments = arguments_of(locals())
        self.use_cudnn = check_use_cudnn(arguments.pop("use_cudnn"))
        super().__init__(**arguments)

    def fast_inner_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        return cudnn_inner_loop(
            self,
            keras_backend.gru,
            not (cell.recurrent_dropout or cell.zoneout_hidden),
            sequences,
            initial_state,
            mask,
            training,
            reset_after=cell.reset_after,
        )

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}
