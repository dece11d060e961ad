"""`SimpleRNNCell` and `SimpleRNN`: the plain (Elman) recurrent network.

    h' = tanh(W x + U h + b)

Elman 1990, "Finding Structure in Time". The baseline the LSTM was made to beat:
its gradient through time is a product of U^T diag(tanh') factors, which vanishes
(or explodes) over long lags (Hochreiter 1991; Bengio, Simard and Frasconi 1994),
while the LSTM's cell state carries it. Here so that `model.cell=simple_rnn` and
`lstmsuite study --cells simple_rnn,lstm` show that on any app. Weights and names
are those of `keras.layers.SimpleRNN` (`kernel`, `recurrent_kernel`, `bias`), so
`ours.set_weights(keras_rnn.get_weights())` gives the same numbers.

Regularization: `dropout` (inputs), variational `recurrent_dropout` on h(t-1) (Gal
and Ghahramani 2016) and `zoneout_hidden` (Krueger et al. 2017). Semeniuta et al.
2016 drop a gated cell's candidate, which a plain RNN does not have (its candidate is
the state itself), so `recurrent_dropout > 0` with `recurrent_dropout_mode=
"semeniuta"` is a ValueError that names the mode.
"""

from __future__ import annotations

import keras

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.recurrent import (
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
    reject_arguments,
)

# Arguments of `RecurrentCell` about gates or a cell state, which a plain RNN does
# not take.
_NOT_TAKEN = ("recurrent_activation", "unit_forget_bias", "zoneout_cell", "cell_clip")


@keras.saving.register_keras_serializable(package="lstmsuite")
class SimpleRNNCell(RecurrentCell):
    """Cell class for `SimpleRNN` (one time step): h' = act(W x + U h + b).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the state (`"tanh"`).
        use_bias: Whether the layer has a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of the input kernel, the recurrent kernel and the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Float in [0, 1). Fraction of the inputs to drop, one mask per
            sequence.
        recurrent_dropout: Float in [0, 1). Variational dropout of h(t-1), one
            mask per sequence.
        seed: Random seed for dropout and zoneout.
        recurrent_dropout_mode: `"variational"` (the only mode with a rate here;
            `"semeniuta"` needs a gated candidate).
        zoneout_hidden: Float in [0, 1). Zoneout rate of h (Krueger et al. 2017).
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List `[h]` with the previous state.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> layer = keras.layers.RNN(SimpleRNNCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gate_blocks = 1
    forget_block = None
    has_cell_state = False
    config_keys_not_taken = _NOT_TAKEN

    def __init__(
        self,
        units,
        activation="tanh",
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
        seed=None,
        recurrent_dropout_mode="variational",
        zoneout_hidden=0.0,
        **kwargs,
    ):
        arguments = arguments_of(locals())
        reject_arguments(
            "SimpleRNNCell", arguments, _NOT_TAKEN, "has no gates or cell state"
        )
        super().__init__(unit_forget_bias=False, **arguments)
        if self.recurrent_dropout and self.recurrent_dropout_mode == "semeniuta":
            raise ValueError(
                "SimpleRNNCell has no gated candidate for Semeniuta recurrent "
                "dropout: use recurrent_dropout_mode='variational' (a mask on "
                "h(t-1)). Received: recurrent_dropout_mode='semeniuta' with "
                f"recurrent_dropout={self.recurrent_dropout!r}"
            )

    def step(self, z, states, masks):
        h_tm1 = states[0]
        h = self.activation(self.add_recurrent(z, h_tm1, masks))
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h]


@keras.saving.register_keras_serializable(package="lstmsuite")
class SimpleRNN(RecurrentLayer):
    """Plain recurrent layer (Elman 1990): the baseline of the long-range tests.

    A drop-in for `keras.layers.SimpleRNN` with the same weights, plus zoneout and
    everything the other layers of this library share (`DeepLSTM(cell=
    "simple_rnn")`, the apps' `model.cell`).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, use_bias: As in `SimpleRNNCell`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in
            `SimpleRNNCell`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers
            of the weights.
        activity_regularizer: Regularizer of the layer's output.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout, recurrent_dropout, seed: As in `SimpleRNNCell`.
        return_sequences: Whether to return the whole sequence or the last output.
        return_state: Whether to also return the last state `h`.
        go_backwards: If True, process the input backwards and return the
            reversed sequence.
        stateful: If True, the last state of each sample in a batch is the
            initial state of that sample in the next batch.
        unroll: If True, unroll the loop (faster for short sequences, more memory).
        recurrent_dropout_mode, zoneout_hidden: As in `SimpleRNNCell`.
        zero_output_for_mask: Whether masked steps output zeros (with
            `return_sequences`) instead of the previous output.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: List `[h]` or a tensor `h`.

    Example:

    >>> SimpleRNN(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = SimpleRNNCell

    def __init__(
        self,
        units,
        activation="tanh",
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
        recurrent_dropout_mode="variational",
        zoneout_hidden=0.0,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**arguments_of(locals()))
