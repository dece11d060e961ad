"""`LSTMPCell` and `LSTMP`: the LSTM with a recurrent projection layer.

    (i, f, g, o) from W x + U h + b as in the LSTM, U of shape (proj_units, 4 units)
    c' = f * c + i * g
    h' = W_proj (o * tanh(c'))           (optionally clipped to ±proj_clip)

Sak, Senior and Beaufays 2014, "Long Short-Term Memory Recurrent Neural Network
Architectures for Large Scale Acoustic Modeling". The output and h have
`proj_units` units, c has `units`. Given the same weights this computes what
`torch.nn.LSTM(proj_size=proj_units)` computes: kernel = weight_ih.T,
recurrent_kernel = weight_hh.T, bias = bias_ih + bias_hh,
projection_kernel = weight_hr.T.
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
    check_clip,
    check_units,
)


@keras.saving.register_keras_serializable(package="lstmsuite")
class LSTMPCell(RecurrentCell):
    """Cell class for `LSTMP`: an LSTM cell whose output is projected.

    The projection kernel `(units, proj_units)` uses the kernel's initializer,
    regularizer and constraint. Zoneout on h acts on the projected output.

    Args:
        units: Positive integer, size of the cell state c.
        proj_units: Positive integer, size of the projected output and of h.
        proj_clip: If set, the projected output is clipped to
            [-proj_clip, proj_clip].
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
        states: List `[h, c]`: h of size `proj_units`, c of size `units`.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> layer = keras.layers.RNN(LSTMPCell(16, proj_units=4))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 4)
    """

    def __init__(
        self,
        units,
        proj_units=None,
        proj_clip=None,
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
        proj_units, proj_clip = arguments.pop("proj_units"), arguments.pop("proj_clip")
        super().__init__(**arguments)
        self.proj_units = check_units("proj_units", proj_units)
        self.proj_clip = check_clip("proj_clip", proj_clip)

    @property
    def output_size(self):
        return self.proj_units

    def build_extra_weights(self, input_dim):
        self.projection_kernel = self.add_weight(
            shape=(self.units, self.proj_units),
            name="projection_kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def step(self, z, states, masks):
        h_tm1, c_tm1 = states
        z = self.add_recurrent(z, h_tm1, masks)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.semeniuta(self.activation(z_c), masks)
        o = self.recurrent_activation(z_o)
        c = self.clip_cell(f * c_tm1 + i * g)
        h = ops.matmul(o * self.activation(c), self.projection_kernel)
        if self.proj_clip is not None:
            h = ops.clip(h, -self.proj_clip, self.proj_clip)
        c = zoneout(c_tm1, c, masks.zoneout_cell)
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "proj_units": self.proj_units,
            "proj_clip": self.proj_clip,
        }


@keras.saving.register_keras_serializable(package="lstmsuite")
class LSTMP(RecurrentLayer):
    """LSTM with recurrent projection (Sak et al. 2014).

    Args:
        units: Positive integer, size of the cell state.
        proj_units: Positive integer, size of the output and of h.
        proj_clip: As in `LSTMPCell`.
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
        initial_state: List `[h, c]`, h `(batch, proj_units)`, c `(batch, units)`.

    Example:

    >>> LSTMP(32, proj_units=8)(np.zeros((2, 10, 8), "float32")).shape
    (2, 8)
    """

    cell_class = LSTMPCell
    proj_units = CellAttribute()
    proj_clip = CellAttribute()

    def __init__(
        self,
        units,
        proj_units=None,
        proj_clip=None,
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
