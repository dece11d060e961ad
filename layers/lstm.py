"""`LSTMCell` and `LSTM`: the LSTM with a forget gate.

    i = σ(W_i x + U_i h + b_i)      f = σ(W_f x + U_f h + b_f)
    g = tanh(W_c x + U_c h + b_c)   o = σ(W_o x + U_o h + b_o)
    c' = f * c + i * g              h' = o * tanh(c')

Hochreiter and Schmidhuber 1997; the forget gate from Gers, Schmidhuber and Cummins
2000, "Learning to Forget". Weights, names and gate order (i, f, c, o) are those of
`keras.layers.LSTM`, so `ours.set_weights(keras_lstm.get_weights())` gives the
same numbers.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.keras_internals import keras_backend
from lstmsuite.layers.recurrent import (
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
    check_use_cudnn,
    cudnn_inner_loop,
)


@keras.saving.register_keras_serializable(package="lstmsuite")
class LSTMCell(RecurrentCell):
    """Cell class for the LSTM layer (one time step).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate and of the output (`"tanh"`).
        recurrent_activation: Activation of the gates (`"sigmoid"`).
        use_bias: Whether the gates have a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of the input kernel, the recurrent kernel and the bias.
        unit_forget_bias: If True, add 1 to the forget gate bias at initialization.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Float in [0, 1). Fraction of the inputs to drop, one mask per
            sequence.
        recurrent_dropout: Float in [0, 1). Recurrent dropout rate.
        seed: Random seed for dropout and zoneout.
        recurrent_dropout_mode: `"variational"` (mask on h(t-1), Gal and
            Ghahramani 2016) or `"semeniuta"` (mask on the candidate g, Semeniuta
            et al. 2016).
        zoneout_cell, zoneout_hidden: Floats in [0, 1). Zoneout rates of c and h
            (Krueger et al. 2017).
        cell_clip: If set, c is clipped to [-cell_clip, cell_clip] at every step.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor of shape `(batch, features)`.
        states: List `[h, c]` of the previous states, each `(batch, units)`.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> cell = LSTMCell(8)
    >>> layer = keras.layers.RNN(cell)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    def step(self, z, states, masks):
        h_tm1, c_tm1 = states
        z = self.add_recurrent(z, h_tm1, masks)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.semeniuta(self.activation(z_c), masks)
        o = self.recurrent_activation(z_o)
        c = self.clip_cell(f * c_tm1 + i * g)
        h = o * self.activation(c)
        c = zoneout(c_tm1, c, masks.zoneout_cell)
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="lstmsuite")
class LSTM(RecurrentLayer):
    """Long Short-Term Memory layer (Hochreiter and Schmidhuber 1997).

    A drop-in for `keras.layers.LSTM` with the same weights, plus
    `recurrent_dropout_mode`, zoneout and `cell_clip`. On a GPU with the
    TensorFlow backend the configuration cuDNN computes (tanh/sigmoid, no recurrent
    dropout, zoneout or clipping, not unrolled) runs on the cuDNN kernel.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias: As in `LSTMCell`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in
            `LSTMCell`.
        unit_forget_bias: If True, add 1 to the forget gate bias at initialization.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers
            of the weights.
        activity_regularizer: Regularizer of the layer's output.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout, recurrent_dropout, seed: As in `LSTMCell`.
        return_sequences: Whether to return the whole sequence or the last output.
        return_state: Whether to also return the last states `h, c`.
        go_backwards: If True, process the input backwards and return the
            reversed sequence.
        stateful: If True, the last state of each sample in a batch is the
            initial state of that sample in the next batch.
        unroll: If True, unroll the loop (faster for short sequences, more memory).
        use_cudnn: `"auto"` (default): use the cuDNN kernel on a GPU when the
            configuration allows it; True: the same, but a ValueError where it
            cannot; False: never.
        recurrent_dropout_mode, zoneout_cell, zoneout_hidden, cell_clip: As in
            `LSTMCell`.
        zero_output_for_mask: Whether masked steps output zeros (with
            `return_sequences`) instead of the previous output.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: List `[h, c]` of initial states.

    Example:

    >>> x = np.random.random((32, 10, 8)).astype("float32")
    >>> LSTM(4)(x).shape
    (32, 4)
    >>> whole_sequence, h, c = LSTM(4, return_sequences=True, return_state=True)(x)
    """

    cell_class = LSTMCell

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
        use_cudnn="auto",
        recurrent_dropout_mode="variational",
        zoneout_cell=0.0,
        zoneout_hidden=0.0,
        cell_clip=None,
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
            keras_backend.lstm,
            not (
                cell.recurrent_dropout
                or cell.zoneout_cell
                or cell.zoneout_hidden
                or cell.cell_clip is not None
            ),
            sequences,
            initial_state,
            mask,
            training,
        )

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}
