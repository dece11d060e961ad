"""`MogrifierLSTMCell` and `MogrifierLSTM`: the LSTM whose input and state gate
each other first.

Before each LSTM step, `rounds` alternating updates (x⁻¹ = x, h⁰ = h(t-1)):

    odd j:   xʲ = 2σ(Qʲ hʲ⁻¹) * xʲ⁻²
    even j:  hʲ = 2σ(Rʲ xʲ⁻¹) * hʲ⁻²

then the LSTM step on the last of each, x↑ and h↑ (with the cell state c(t-1)):

    (i, f, g, o) = (σ, σ, tanh, σ)(W x↑ + U h↑ + b)
    c' = f * c + i * g              h' = o * tanh(c')

Melis, Kočiský and Blunsom 2020, "Mogrifier LSTM" (ICLR), section 2; `rounds=0`
is the plain LSTM. The mogrifier matrices have no bias, as in the paper. With
`rank=k` each matrix is the product of two of rank k, Qʲ = Qʲ_left Qʲ_right, the
factorization the paper proposes. In Keras's row-vector convention
the weights are `mogrifier_q{j}` (units, features) for odd j and `mogrifier_r{j}`
(features, units) for even j (or `..._left` / `..._right` pairs), with
`kernel`, `recurrent_kernel` and `bias` of `LSTMCell` (gate order i, f, c, o).
"""

from __future__ import annotations

import keras
from keras import initializers, ops

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.lstm import LSTMCell
from lstmsuite.layers.recurrent import (
    CellAttribute,
    RecurrentLayer,
    arguments_of,
    check_units,
    recurrent_matmul,
)


def check_rounds(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            "Argument `rounds` must be a non-negative integer. "
            f"Received: rounds={value!r}"
        )
    return value


@keras.saving.register_keras_serializable(package="lstmsuite")
class MogrifierLSTMCell(LSTMCell):
    """Cell class for `MogrifierLSTM`: an `LSTMCell` after `rounds` mogrifications.

    The mogrification depends on h(t-1), so it runs in `step`: `project_inputs`
    leaves x as it is (`rounds=0`: W x + b, as `LSTMCell`), and `step` computes
    W x↑ + b + U h↑. Recurrent dropout (`"variational"`) drops h(t-1) once, before
    it enters both the mogrifier and U; `"semeniuta"` drops the candidate g.
    Zoneout mixes the new h and c with h(t-1) and c(t-1) (not the mogrified h↑).

    Args:
        units: Positive integer, dimensionality of the output space.
        rounds: Non-negative integer, the number of mogrifier rounds (the paper's
            r; 0: a plain LSTM).
        rank: None (full matrices Qʲ, Rʲ) or a positive integer k: each is the
            product of a (·, k) and a (k, ·) matrix.
        mogrifier_initializer: Initializer of the mogrifier matrices (regularized
            and constrained by `kernel_regularizer` / `kernel_constraint`).
        activation, recurrent_activation, use_bias: As in `LSTMCell`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in
            `LSTMCell`.
        unit_forget_bias: As in `LSTMCell`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: As in
            `LSTMCell`.
        kernel_constraint, recurrent_constraint, bias_constraint: As in
            `LSTMCell`.
        dropout: Float in [0, 1). Fraction of the inputs x to drop (before the
            mogrifier), one mask per sequence.
        recurrent_dropout: Float in [0, 1). Recurrent dropout rate (see above).
        seed: As in `LSTMCell`.
        recurrent_dropout_mode, zoneout_cell, zoneout_hidden, cell_clip: As in
            `LSTMCell`.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List `[h, c]` of the previous states.
        training: Python boolean, whether dropout and zoneout are active.

    Example:

    >>> layer = keras.layers.RNN(MogrifierLSTMCell(8, rounds=4, rank=2))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    def __init__(
        self,
        units,
        rounds=5,
        rank=None,
        mogrifier_initializer="glorot_uniform",
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
        rounds = arguments.pop("rounds")
        rank = arguments.pop("rank")
        mogrifier_initializer = arguments.pop("mogrifier_initializer")
        super().__init__(**arguments)
        self.rounds = check_rounds(rounds)
        self.rank = None if rank is None else check_units("rank", rank)
        self.mogrifier_initializer = initializers.get(mogrifier_initializer)

    def build_extra_weights(self, input_dim):
        # One entry per round: (j, [matrices whose product is Qʲ or Rʲ]).
        self.mogrifier_weights = []
        for j in range(1, self.rounds + 1):
            name = f"mogrifier_q{j}" if j % 2 else f"mogrifier_r{j}"
            rows, columns = (
                (self.units, input_dim) if j % 2 else (input_dim, self.units)
            )
            if self.rank is None:
                shapes = {name: (rows, columns)}
            else:
                shapes = {
                    f"{name}_left": (rows, self.rank),
                    f"{name}_right": (self.rank, columns),
                }
            matrices = [
                self.add_weight(
                    shape=shape,
                    name=weight_name,
                    initializer=self.mogrifier_initializer,
                    regularizer=self.kernel_regularizer,
                    constraint=self.kernel_constraint,
                )
                for weight_name, shape in shapes.items()
            ]
            self.mogrifier_weights.append((j, matrices))

    def project_inputs(self, inputs, masks=None):
        if not self.rounds:
            return super().project_inputs(inputs, masks)
        return inputs  # W x↑ needs h(t-1): computed in `step`

    def mogrify(self, x, h):
        """(x↑, h↑): the alternating rounds on x(t) and (dropped-out) h(t-1)."""
        for j, matrices in self.mogrifier_weights:
            source = h if j % 2 else x
            for matrix in matrices:
                source = ops.matmul(source, matrix)
            scale = 2.0 * ops.sigmoid(source)
            if j % 2:
                x = scale * x
            else:
                h = scale * h
        return x, h

    def step(self, z, states, masks):
        if not self.rounds:
            return super().step(z, states, masks)
        h_tm1, c_tm1 = states
        x, h = self.mogrify(z, self.variational(h_tm1, masks))
        z = ops.matmul(x, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        r, z = recurrent_matmul(h, self.recurrent_kernel, z, masks.training)
        z_i, z_f, z_c, z_o = ops.split(z + r, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.semeniuta(self.activation(z_c), masks)
        o = self.recurrent_activation(z_o)
        c = self.clip_cell(f * c_tm1 + i * g)
        h = o * self.activation(c)
        c = zoneout(c_tm1, c, masks.zoneout_cell)
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "rounds": self.rounds,
            "rank": self.rank,
            "mogrifier_initializer": initializers.serialize(self.mogrifier_initializer),
        }


@keras.saving.register_keras_serializable(package="lstmsuite")
class MogrifierLSTM(RecurrentLayer):
    """Mogrifier LSTM layer (Melis, Kočiský and Blunsom 2020).

    Args:
        units: Positive integer, dimensionality of the output space.
        rounds, rank, mogrifier_initializer: As in `MogrifierLSTMCell`.
        activation, recurrent_activation, use_bias: As in `LSTM`.
        kernel_initializer, recurrent_initializer, bias_initializer: As in `LSTM`.
        unit_forget_bias: As in `LSTM`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: As in `LSTM`.
        activity_regularizer: As in `LSTM`.
        kernel_constraint, recurrent_constraint, bias_constraint: As in `LSTM`.
        dropout, recurrent_dropout, seed: As in `MogrifierLSTMCell`.
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

    >>> x = np.random.random((4, 10, 8)).astype("float32")
    >>> MogrifierLSTM(6)(x).shape
    (4, 6)
    >>> outputs, h, c = MogrifierLSTM(6, rounds=4, rank=2, return_state=True)(x)
    """

    cell_class = MogrifierLSTMCell
    rounds = CellAttribute()
    rank = CellAttribute()
    mogrifier_initializer = CellAttribute()

    def __init__(
        self,
        units,
        rounds=5,
        rank=None,
        mogrifier_initializer="glorot_uniform",
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
