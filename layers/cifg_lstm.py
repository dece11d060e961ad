"""`CIFGLSTMCell` and `CIFGLSTM`: the LSTM with coupled input and forget gates.

    f = σ(W_f x + U_f h + b_f)     i = 1 - f
    g = tanh(W_c x + U_c h + b_c)  o = σ(W_o x + U_o h + b_o)
    c' = f * c + (1 - f) * g       h' = o * tanh(c')

Greff et al. 2017, "LSTM: A Search Space Odyssey" (the CIFG variant): one gate fewer,
a quarter fewer weights, about the same accuracy. The kernel has three blocks in
the order (f, c, o).
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.recurrent import RecurrentCell, RecurrentLayer, arguments_of


@keras.saving.register_keras_serializable(package="lstmsuite")
class CIFGLSTMCell(RecurrentCell):
    """Cell class for `CIFGLSTM`: the input gate is `1 - forget gate`.

    Kernels have three gate blocks (f, c, o); `unit_forget_bias` applies to f.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias: As in `LSTMCell`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in
            `LSTMCell`.
        unit_forget_bias: As in `LSTMCell`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: As in
            `LSTMCell`.
        kernel_constraint, recurrent_constraint, bias_constraint: As in
            `LSTMCell`.
        dropout, recurrent_dropout, seed: As in `LSTMCell`.
        recurrent_dropout_mode, zoneout_cell, zoneout_hidden, cell_clip: As in
            `LSTMCell`.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List `[h, c]` of the previous states.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> layer = keras.layers.RNN(CIFGLSTMCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gate_blocks = 3
    forget_block = 0

    def step(self, z, states, masks):
        h_tm1, c_tm1 = states
        z = self.add_recurrent(z, h_tm1, masks)
        z_f, z_c, z_o = ops.split(z, 3, axis=-1)
        f = self.recurrent_activation(z_f)
        g = self.semeniuta(self.activation(z_c), masks)
        o = self.recurrent_activation(z_o)
        c = self.clip_cell(f * c_tm1 + (1.0 - f) * g)
        h = o * self.activation(c)
        c = zoneout(c_tm1, c, masks.zoneout_cell)
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="lstmsuite")
class CIFGLSTM(RecurrentLayer):
    """LSTM with a coupled input-forget gate (Greff et al. 2017).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias: As in `LSTM`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in `LSTM`.
        unit_forget_bias: As in `LSTM`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: As in `LSTM`.
        activity_regularizer: As in `LSTM`.
        kernel_constraint, recurrent_constraint, bias_constraint: As in `LSTM`.
        dropout, recurrent_dropout, seed: As in `LSTM`.
        return_sequences, return_state, go_backwards, stateful, unroll: As in
            `LSTM`.
        recurrent_dropout_mode, zoneout_cell, zoneout_hidden, cell_clip: As in
            `LSTM`.
        zero_output_for_mask: As in `LSTM`.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: List `[h, c]` of initial states.

    Example:

    >>> CIFGLSTM(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = CIFGLSTMCell

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        recurrent_dropout_mode="variational",
        zoneout_cell=0.0,
        zoneout_hidden=0.0,
        cell_clip=None,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**arguments_of(locals()))
