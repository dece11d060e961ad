"""`PeepholeLSTMCell` and `PeepholeLSTM`: the LSTM with diagonal peephole connections.

    i = σ(W_i x + U_i h + p_i * c + b_i)      f = σ(W_f x + U_f h + p_f * c + b_f)
    g = tanh(W_c x + U_c h + b_c)             c' = f * c + i * g
    o = σ(W_o x + U_o h + p_o * c' + b_o)     h' = o * tanh(c')

Gers and Schmidhuber 2000, "Recurrent Nets that Time and Count": the input and
forget gates look at the previous cell state, the output gate at the new one.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.recurrent import (
    CellAttribute,
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
)


@keras.saving.register_keras_serializable(package="lstmsuite")
class PeepholeLSTMCell(RecurrentCell):
    """Cell class for `PeepholeLSTM`: an `LSTMCell` with diagonal peepholes.

    Adds three weight vectors of size `units`: `input_peephole_weights`,
    `forget_peephole_weights` and `output_peephole_weights` (initialized with
    `peephole_initializer`, regularized and constrained like the kernel).

    Args:
        units: Positive integer, dimensionality of the output space.
        peephole_initializer: Initializer of the peephole weights.
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

    >>> layer = keras.layers.RNN(PeepholeLSTMCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    def __init__(
        self,
        units,
        peephole_initializer="glorot_uniform",
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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        recurrent_dropout_mode="variational",
        zoneout_cell=0.0,
        zoneout_hidden=0.0,
        cell_clip=None,
        **kwargs,
    ):
        arguments = arguments_of(locals())
        peephole_initializer = arguments.pop("peephole_initializer")
        super().__init__(**arguments)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)

    def build_extra_weights(self, input_dim):
        for gate in ("input", "forget", "output"):
            weight = self.add_weight(
                shape=(self.units,),
                name=f"{gate}_peephole_weights",
                initializer=self.peephole_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
            setattr(self, f"{gate}_peephole_weights", weight)

    def step(self, z, states, masks):
        h_tm1, c_tm1 = states
        z = self.add_recurrent(z, h_tm1, masks)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + self.input_peephole_weights * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_peephole_weights * c_tm1)
        g = self.semeniuta(self.activation(z_c), masks)
        c = self.clip_cell(f * c_tm1 + i * g)
        o = self.recurrent_activation(z_o + self.output_peephole_weights * c)
        h = o * self.activation(c)
        c = zoneout(c_tm1, c, masks.zoneout_cell)
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "peephole_initializer": keras.initializers.serialize(
                self.peephole_initializer
            ),
        }


@keras.saving.register_keras_serializable(package="lstmsuite")
class PeepholeLSTM(RecurrentLayer):
    """LSTM with diagonal peephole connections (Gers and Schmidhuber 2000).

    Args:
        units: Positive integer, dimensionality of the output space.
        peephole_initializer: As in `PeepholeLSTMCell`.
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

    >>> PeepholeLSTM(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = PeepholeLSTMCell
    peephole_initializer = CellAttribute()

    def __init__(
        self,
        units,
        peephole_initializer="glorot_uniform",
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
