"""`MinLSTMCell` and `MinLSTM`: the minimal LSTM, gates from x(t) alone.

    f = σ(W_f x + b_f)      i = σ(W_i x + b_i)      h̃ = act(W_h x + b_h)
    f' = f / (f + i)        i' = i / (f + i)
    h' = f' * h + i' * h̃

Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We Needed?"
(arXiv 2410.01201). The normalized gates are computed without overflow as
f' = (1 + e_i) / (2 + e_i + e_f), e = exp(-k), all terms scaled by exp(-m),
m = max(0, -k_f, -k_i); i' = 1 - f'; and, for the log-space scan,
log f' = -softplus(log i - log f) with log σ(x) = -softplus(-x). As in `MinGRU`,
a whole sequence is the linear recurrence h(t) = f'(t) h(t-1) + i'(t) h̃(t):
`MinLSTM` computes W x for the whole sequence in one matmul and runs it as a scan
(`lstmsuite.layers.linear_scan`; forms and their choice as in `MinGRU`);
`MinLSTMCell` computes one step, for `keras.layers.RNN` and step-by-step decoding.

Weights: `kernel` (input_dim, 3 * units) and `bias` (3 * units,), blocks in the
order (i, f, h) of `keras.layers.LSTM`; `unit_forget_bias` (default True, as in
`LSTM`) starts the forget block's bias at 1. The only state is h (no cell state).

The candidate activation and the regularization options are those of `MinGRU`
(see `lstmsuite.layers.min_gru`): `"tanh"` by default, `"min_rnn_g"` for the
paper's g, `"linear"` for its vanilla version; recurrent dropout only in the
`"semeniuta"` mode.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers.min_gru import _NOT_TAKEN, MinRNN, MinRNNCell
from lstmsuite.layers.recurrent import arguments_of


@keras.saving.register_keras_serializable(package="lstmsuite")
class MinLSTMCell(MinRNNCell):
    """Cell class for `MinLSTM` (one time step; Feng et al. 2024).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate h̃: `"tanh"` (default), any
            Keras activation, or `"min_rnn_g"` (the paper's g).
        recurrent_activation: Activation of the gates f and i (`"sigmoid"`).
        use_bias: Whether the layer has a bias vector.
        kernel_initializer, bias_initializer: Initializers of the kernel
            `(input_dim, 3 * units)` and the bias, blocks (i, f, h).
        unit_forget_bias: If True, the forget block's bias starts at 1.
        kernel_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, bias_constraint: Constraints.
        dropout: Float in [0, 1). Fraction of the inputs to drop, one mask per
            sequence.
        recurrent_dropout: Float in [0, 1). Rate of the mask on the candidate h̃
            (needs `recurrent_dropout_mode="semeniuta"`).
        seed: Random seed for dropout and zoneout.
        recurrent_dropout_mode: `"semeniuta"` (a mask on h̃, one per sequence,
            Semeniuta et al. 2016); `"variational"` (the default of the library)
            takes no recurrent dropout here, as there is no recurrent matmul.
        zoneout_hidden: Float in [0, 1). Zoneout rate of h (Krueger et al. 2017).
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List `[h]` with the previous state.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> layer = keras.layers.RNN(MinLSTMCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gate_blocks = 3
    forget_block = 1
    config_keys_not_taken = _NOT_TAKEN

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        recurrent_dropout_mode="variational",
        zoneout_hidden=0.0,
        **kwargs,
    ):
        super().__init__(**arguments_of(locals()))

    def gates(self, gate_blocks):
        k_i, k_f = gate_blocks
        if not self._sigmoid_gates():
            i = self.recurrent_activation(k_i)
            f = self.recurrent_activation(k_f)
            # Gates that reach 0 (e.g. hard_sigmoid) can both be 0: f' = i' = 1/2
            # there, their limit as f = i -> 0 (0/0 otherwise).
            total = f + i
            both_closed = total <= 0.0
            total = ops.where(both_closed, 1.0, total)
            return (
                ops.where(both_closed, 0.5, f / total),
                ops.where(both_closed, 0.5, i / total),
            )
        # f' = σ(k_f) / (σ(k_f) + σ(k_i)) = (1 + e_i) / (2 + e_i + e_f) with
        # e = exp(-k), every term scaled by exp(-m), m = max(0, -k_f, -k_i): no
        # exponent above 0, a denominator >= 1, three exponentials (the softplus
        # form took seven, the largest cost of a training step).
        m = ops.maximum(ops.maximum(-k_f, -k_i), 0.0)
        u, e_i, e_f = ops.exp(-m), ops.exp(-k_i - m), ops.exp(-k_f - m)
        # i' = (1 + e_f) / (2 + e_i + e_f) from its own numerator, and f' = 1 - i':
        # where the memory is long (f' near 1, as chrono initialization starts
        # it) i' is small and is all the input h takes in, which 1 - f' would
        # round to a few digits; f' = 1 - i' keeps f' to float32's step near 1.
        # One division, as before (interleaved A/B, B=32, T=1000, H=128: within
        # 1% of 1 - f'); s and a as two products of 1 / (2u + e_i + e_f) trained
        # 6-13% slower.
        s = (u + e_f) / (2.0 * u + e_i + e_f)
        return 1.0 - s, s

    def gates_gradient(self, gate_blocks, a, s, grad_a):
        if not self._sigmoid_gates():
            return None
        # a = σ(log σ(k_f) - log σ(k_i)), d log σ(k)/dk = σ(-k): so
        # da/dk_f = a s σ(-k_f) and da/dk_i = -a s σ(-k_i).
        k_i, k_f = gate_blocks
        grad = grad_a * a * s
        return [-grad * ops.sigmoid(-k_i), grad * ops.sigmoid(-k_f)]

    def log_a(self, gate_blocks, a):
        if not self._sigmoid_gates():
            return ops.log(a)
        # log f' = -softplus(log i - log f), log σ(x) = -softplus(-x).
        k_i, k_f = gate_blocks
        return -ops.softplus(ops.softplus(-k_f) - ops.softplus(-k_i))


@keras.saving.register_keras_serializable(package="lstmsuite")
class MinLSTM(MinRNN):
    """Minimal LSTM layer (Feng et al. 2024, "Were RNNs All We Needed?").

    Gates and candidate depend on x(t) only: W x runs as one matmul for the
    whole sequence and the recurrence as a scan (`lstmsuite.layers.linear_scan`),
    many times faster than an LSTM for long sequences; masking, `go_backwards`,
    `initial_state`, `stateful`, zoneout and dropout behave as in `LSTM`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias: As in `MinLSTMCell`.
        kernel_initializer, bias_initializer: As in `MinLSTMCell`.
        unit_forget_bias: As in `MinLSTMCell`.
        kernel_regularizer, bias_regularizer: Regularizers of the weights.
        activity_regularizer: Regularizer of the layer's output.
        kernel_constraint, bias_constraint: Constraints.
        dropout, recurrent_dropout, seed: As in `MinLSTMCell`.
        return_sequences: Whether to return the whole sequence or the last output.
        return_state: Whether to also return the last state `h`.
        go_backwards: If True, process the input backwards and return the
            reversed sequence.
        stateful: If True, the last state of each sample in a batch is the
            initial state of that sample in the next batch.
        unroll: If True, run the generic step loop unrolled instead of the scan.
        recurrent_dropout_mode, zoneout_hidden: As in `MinLSTMCell`.
        zero_output_for_mask: Whether masked steps output zeros (with
            `return_sequences`) instead of the previous output.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: List `[h]` or a tensor `h`.

    Example:

    >>> MinLSTM(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = MinLSTMCell

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
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
