"""`LayerNormLSTMCell` and `LayerNormLSTM`: the layer-normalized LSTM.

    (i, f, g, o) = LN(W x; α_x, β_x) + LN(U h; α_h, β_h) + b
    c' = f * c + i * g
    h' = o * tanh(LN(c'; α_c, β_c))

Ba, Kiros and Hinton 2016, "Layer Normalization", section 3.1 (eqs. 20-22). As in
the paper, LN normalizes the whole 4*units pre-activation vector of W x and of U h.
Normalization is computed in float32 even under a mixed-precision policy, because a
variance in float16 loses the small differences it is meant to measure.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
from keras import ops

from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.recurrent import (
    CellAttribute,
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
    recurrent_matmul,
)


def layer_norm(x, gamma, beta, epsilon, custom_gradient=False, centered=False):
    """LN over the last axis, in float32 or wider, returned in x's dtype.

    `beta` may be None (no offset). `custom_gradient`: on TensorFlow, use the
    closed-form gradient (pass True wherever a gradient may be taken; False saves
    the op that attaches it, e.g. in inference). `centered`: x already has mean 0
    over the last axis (see `LayerNormLSTMCell.derive_weights`), so only the
    scaling is left to do.
    """
    dtype = x.dtype
    # Half precision is computed in float32; float32 and float64 stay as they are.
    half = keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16")
    compute_dtype = "float32" if half else dtype
    # A mean folded into a half-precision kernel is only centered to within its
    # rounding error, so half precision centers again, in float32.
    centered = centered and not half
    x = ops.cast(x, compute_dtype)
    gamma = ops.cast(gamma, compute_dtype)
    if beta is not None:
        beta = ops.cast(beta, compute_dtype)
    if custom_gradient and keras.backend.backend() == "tensorflow":
        return ops.cast(_tf_layer_norm(x, gamma, beta, epsilon, centered), dtype)
    if not centered:
        x = x - ops.mean(x, axis=-1, keepdims=True)
    inv = ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + epsilon)
    # x * gamma does not wait for the variance, so TensorFlow's per-op loop
    # executor runs it beside the reduction: one op less on the critical path.
    x = (x * gamma) * inv
    return ops.cast(x if beta is None else x + beta, dtype)


def _tf_layer_norm(x, gamma, beta, epsilon, centered=False):
    """LN with a hand-written gradient, for TensorFlow's per-op loop executor.

    Inside the recurrent loop TensorFlow pays for every op, and autodiff of the
    plain formula emits about twice the ops of the closed-form LN gradient
        dx = (g - mean(g) - x^ mean(g x^)) / sigma,  g = dy * gamma
    (`lstmsuite bench layers`: LayerNormLSTM training 1.65x -> about 1.25x of
    `LSTM`). For `centered` x, autodiff of the centering (outside, on the
    kernel) supplies the mean(g) term.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def normalize(x, gamma, *beta):
        c = x if centered else x - tf.reduce_mean(x, -1, keepdims=True)
        inv = tf.math.rsqrt(tf.reduce_mean(tf.square(c), -1, keepdims=True) + epsilon)
        x_hat = c * inv
        y = (x_hat * gamma + beta[0]) if beta else x_hat * gamma

        def grad(dy):
            g = dy * gamma
            if not centered:
                g = g - tf.reduce_mean(g, -1, keepdims=True)
            dx = tf.multiply(
                inv,
                g - x_hat * tf.reduce_mean(g * x_hat, -1, keepdims=True),
                name="dx",
            )
            batch_axes = list(range(len(dy.shape) - 1))
            # The gain (and offset) gradients wait for dx, which the recurrence
            # waits for (training 1% faster, as `recurrent_matmul` orders dh).
            with tf.control_dependencies([dx]):
                dgamma = tf.reduce_sum(dy * x_hat, batch_axes, name="dgamma")
                if beta:
                    return dx, dgamma, tf.reduce_sum(dy, batch_axes, name="dbeta")
            return dx, dgamma

        return y, grad

    return normalize(x, gamma) if beta is None else normalize(x, gamma, beta)


class _Vectors(NamedTuple):
    """The per-feature vectors a step adds or multiplies by: (n,) tensors, or
    (rows, n) ones in inference loops of a known batch size (`sequence_masks`)."""

    offset: object  # input_norm_beta + recurrent_norm_beta + bias
    recurrent_gamma: object
    cell_gamma: object
    cell_beta: object


class _DerivedWeights(NamedTuple):
    """The weights `LayerNormLSTMCell` computes with: derived once per sequence
    (`derive_weights`), or the plain ones for a single step (`centered=False`)."""

    kernel: object  # W, minus the mean of each of its rows if `centered`
    recurrent_kernel: object  # U likewise
    vectors: _Vectors
    centered: bool = True
    # For `prepare_inputs` (sequences only): the kernel's Gram matrix over
    # 4*units, and the kernel times input_norm_gamma.
    input_gram: object = None
    scaled_kernel: object = None


def _prescaled(masks):
    """Whether `prepare_inputs` normalizes x (in inference, within a sequence)."""
    return masks is not None and not masks.training and masks.derived is not None


def _center_rows(kernel):
    """`kernel` minus the mean of each row, so that `x @ result` has mean 0."""
    return kernel - ops.mean(kernel, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="lstmsuite")
class LayerNormLSTMCell(RecurrentCell):
    """Cell class for `LayerNormLSTM`.

    Adds three gain/bias pairs: `input_norm_gamma`/`input_norm_beta` and
    `recurrent_norm_gamma`/`recurrent_norm_beta` (size 4*units) and
    `cell_norm_gamma`/`cell_norm_beta` (size units). The input normalization
    depends on x only: in inference `LayerNormLSTM` computes its scale for the
    whole sequence before the loop (see `derive_weights`); in training it runs per
    step, off the recurrence's critical path.

    Zero inputs from a zero state: W x = 0 and U h = 0, the candidate's bias
    starts at 0, so c and h stay exactly 0 for as long as the inputs are 0. LN
    at a zero vector has the Jacobian gamma / sqrt(norm_epsilon) (316 for the
    default), and a step goes through two (LN(U h) and LN(c)), so the gradient
    grows by orders of magnitude per such step and overflows float32 within
    about ten of them (measured: 5e16 after 5 steps, NaN after 10; with
    `norm_epsilon=0.1`, 6e6 after 30 and NaN over the 100+ blank pixels that
    open a sequential-MNIST image). The forward pass is unaffected. Mask
    leading padding (masked steps pass no gradient through the LN) or feed
    inputs that are not exactly zero (e.g. standardized). With a single input
    feature, LN(W x) keeps only the sign of x.

    Args:
        units: Positive integer, dimensionality of the output space.
        norm_epsilon: Small float added to the variance.
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

    >>> layer = keras.layers.RNN(LayerNormLSTMCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    def __init__(
        self,
        units,
        norm_epsilon=1e-5,
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
        norm_epsilon = arguments.pop("norm_epsilon")
        super().__init__(**arguments)
        if not isinstance(norm_epsilon, (int, float)) or norm_epsilon <= 0:
            raise ValueError(
                "Argument `norm_epsilon` must be a positive float. "
                f"Received: norm_epsilon={norm_epsilon!r}"
            )
        self.norm_epsilon = float(norm_epsilon)

    def build_extra_weights(self, input_dim):
        for name, size in (
            ("input_norm", self.gate_units),
            ("recurrent_norm", self.gate_units),
            ("cell_norm", self.units),
        ):
            gamma = self.add_weight(
                shape=(size,), name=f"{name}_gamma", initializer="ones"
            )
            beta = self.add_weight(
                shape=(size,), name=f"{name}_beta", initializer="zeros"
            )
            setattr(self, f"{name}_gamma", gamma)
            setattr(self, f"{name}_beta", beta)

    def derive_weights(self):
        # LN(W x) starts by subtracting the mean of W x over its 4*units entries,
        # which is x times the row means of W. Subtracting those row means from W
        # and U once per sequence makes the matmuls return centered values.
        kernel = _center_rows(self.kernel)
        # What is left of LN(W x) is then a division by its root mean square, a
        # quadratic form of x: mean((W x)^2) = x^T (W W^T / n) x. So in inference
        # `prepare_inputs` scales each x by it before the matmul, for the whole
        # sequence at once, and the loop only runs x @ (W * gain)
        # (`lstmsuite bench layers`: inference 1.33x -> 1.27x of `LSTM`).
        return _DerivedWeights(
            kernel=kernel,
            recurrent_kernel=_center_rows(self.recurrent_kernel),
            vectors=self._vectors(),
            input_gram=ops.matmul(kernel, ops.transpose(kernel)) / self.gate_units,
            scaled_kernel=kernel * self.input_norm_gamma,
        )

    def sequence_masks(self, h, training, time_steps, rows=None):
        masks = super().sequence_masks(h, training, time_steps, rows)
        if (
            training
            or rows is None
            or masks.derived is None
            or keras.backend.backend() != "tensorflow"
        ):
            return masks
        # In inference TensorFlow's CPU kernels multiply (rows, n) by (n,) through
        # their slower broadcasting path, at every step: broadcast those vectors
        # once per sequence instead (`lstmsuite bench layers`: inference 39.1 ->
        # 37.1 ms). Not in training, where it measured no faster.
        vectors = masks.derived.vectors
        # The gains in the dtype `layer_norm` computes in, so that no step casts.
        dtype = keras.backend.standardize_dtype(self.compute_dtype)
        norm_dtype = "float32" if dtype in ("float16", "bfloat16") else dtype

        def broadcast(vector, cast_to=None):
            vector = vector if cast_to is None else ops.cast(vector, cast_to)
            return ops.broadcast_to(vector, (rows, vector.shape[-1]))

        return masks._replace(
            derived=masks.derived._replace(
                vectors=_Vectors(
                    offset=broadcast(vectors.offset),
                    recurrent_gamma=broadcast(vectors.recurrent_gamma, norm_dtype),
                    cell_gamma=broadcast(vectors.cell_gamma, norm_dtype),
                    cell_beta=broadcast(vectors.cell_beta, norm_dtype),
                )
            )
        )

    def _vectors(self):
        # LN(Wx) + LN(Uh) + b: the three constant offsets (two LN betas and the
        # bias) are summed as small vectors, instead of each being added to the
        # (batch, 4*units) pre-activations.
        offset = self.input_norm_beta + self.recurrent_norm_beta
        return _Vectors(
            offset=offset if self.bias is None else offset + self.bias,
            recurrent_gamma=self.recurrent_norm_gamma,
            cell_gamma=self.cell_norm_gamma,
            cell_beta=self.cell_norm_beta,
        )

    def prepare_inputs(self, inputs, masks=None):
        if not _prescaled(masks):
            # A single `call` has no sequence to do this for. In training, scaling
            # x here would make the loop's backward pass compute d/dx at every step
            # (x would depend on W through the Gram matrix; measured 1.3x -> 1.36x
            # of `LSTM`). Then `project_inputs` normalizes per step instead.
            return inputs
        # Computed in float32 (or float64) like `layer_norm`.
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        x = ops.cast(inputs, "float32") if dtype in ("float16", "bfloat16") else inputs
        gram = ops.cast(masks.derived.input_gram, x.dtype)
        mean_square = ops.sum(ops.matmul(x, gram) * x, axis=-1, keepdims=True)
        return ops.cast(x * ops.rsqrt(mean_square + self.norm_epsilon), dtype)

    def project_inputs(self, inputs, masks=None):
        derived = self._derived(masks)
        if _prescaled(masks):
            # `prepare_inputs` scaled x: this completes LN(W x) + offset.
            return ops.matmul(inputs, derived.scaled_kernel) + derived.vectors.offset
        return layer_norm(
            ops.matmul(inputs, derived.kernel),
            self.input_norm_gamma,
            derived.vectors.offset,
            self.norm_epsilon,
            custom_gradient=True,
            centered=derived.centered,
        )

    def _derived(self, masks):
        if masks is not None and masks.derived is not None:
            return masks.derived
        # A single step (`cell.call`, or a one-step sequence): centering the
        # kernels would cost more than the LN's own centering it saves.
        return _DerivedWeights(
            self.kernel, self.recurrent_kernel, self._vectors(), centered=False
        )

    def step(self, z, states, masks):
        h_tm1, c_tm1 = states
        derived = self._derived(masks)
        r, z = recurrent_matmul(
            self.variational(h_tm1, masks),
            derived.recurrent_kernel,
            z,
            masks.training,
        )
        vectors = derived.vectors
        # recurrent_norm_beta is in the offset project_inputs added to z.
        z = z + layer_norm(
            r,
            vectors.recurrent_gamma,
            None,
            self.norm_epsilon,
            custom_gradient=masks.training,
            centered=derived.centered,
        )
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.semeniuta(self.activation(z_c), masks)
        o = self.recurrent_activation(z_o)
        c = self.clip_cell(f * c_tm1 + i * g)
        normed_c = layer_norm(
            c,
            vectors.cell_gamma,
            vectors.cell_beta,
            self.norm_epsilon,
            custom_gradient=masks.training,
        )
        h = o * self.activation(normed_c)
        c = zoneout(c_tm1, c, masks.zoneout_cell)
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "norm_epsilon": self.norm_epsilon}


@keras.saving.register_keras_serializable(package="lstmsuite")
class LayerNormLSTM(RecurrentLayer):
    """Layer-normalized LSTM (Ba et al. 2016).

    Long runs of exactly zero inputs from a zero state make the gradient explode
    (LN's Jacobian at a zero vector; see `LayerNormLSTMCell`): mask such padding
    or standardize the inputs.

    Args:
        units: Positive integer, dimensionality of the output space.
        norm_epsilon: As in `LayerNormLSTMCell`.
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

    >>> LayerNormLSTM(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = LayerNormLSTMCell
    norm_epsilon = CellAttribute()

    def __init__(
        self,
        units,
        norm_epsilon=1e-5,
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
