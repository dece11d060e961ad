"""`MinGRUCell` and `MinGRU`: the minimal GRU, gates from x(t) alone.

    z = σ(W_z x + b_z)      h̃ = act(W_h x + b_h)
    h' = (1 - z) * h + z * h̃

Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We Needed?"
(arXiv 2410.01201). Neither the gate nor the candidate sees h(t-1), so a whole
sequence is the linear recurrence h(t) = a(t) h(t-1) + b(t) with a = 1 - z and
b = z * h̃ known before the loop: `MinGRU` computes W x for the whole sequence in
one matmul and runs that recurrence as a scan (`lstmsuite.layers.linear_scan`):
the paper's parallel log-space scan on a GPU; on a CPU with TensorFlow a
sequential scan, in one XLA cluster with the element-wise work around it and its
own gradient (`lstmsuite.layers.min_rnn_fused`); on a CPU with JAX the generic
step loop, measured faster there. The cell
(`MinGRUCell`) computes one step, for `keras.layers.RNN` and step-by-step
decoding; every form gives the same outputs, states and gradients.

Weights: `kernel` (input_dim, 2 * units) and `bias` (2 * units,), blocks in the
order (z, h). The only state is h.

The paper's candidate activation is the identity (its "vanilla" version) or, in
its log-space version, g(x) = x + 0.5 for x >= 0, σ(x) for x < 0 (positive, so
that log h̃ exists). Our scans take b of either sign, so any activation works;
the default is `"tanh"` (the default of every layer of this library: h stays in
[-1, 1] as in a GRU); `activation="min_rnn_g"` is the paper's g and
`activation="linear"` its vanilla version.

Regularization: `dropout` (inputs), `zoneout_hidden` (Krueger et al. 2017) and
recurrent dropout on the candidate h̃ (`recurrent_dropout_mode="semeniuta"`,
Semeniuta et al. 2016). There is no recurrent matmul for variational dropout to
act on, so `recurrent_dropout > 0` with the default mode `"variational"` is a
ValueError that names `recurrent_dropout_mode`.
"""

from __future__ import annotations

import functools
import math

import keras
from keras import activations, ops

from lstmsuite.layers import linear_scan as scan_lib
from lstmsuite.layers import min_rnn_fused
from lstmsuite.layers.dropout import zoneout
from lstmsuite.layers.recurrent import (
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
    reject_arguments,
)


@keras.saving.register_keras_serializable(package="lstmsuite", name="min_rnn_g")
def min_rnn_g(x):
    """Feng et al. 2024's candidate activation: x + 0.5 for x >= 0, σ(x) below."""
    return ops.where(x >= 0, x + 0.5, ops.sigmoid(x))


def get_activation(identifier):
    """`keras.activations.get`, plus the name `"min_rnn_g"`."""
    if identifier == "min_rnn_g":
        return min_rnn_g
    return activations.get(identifier)


def serialize_activation(activation):
    if activation is min_rnn_g:
        return "min_rnn_g"
    return activations.serialize(activation)


# Arguments of `RecurrentCell` about a recurrent kernel or a cell state, which the
# minimal cells do not take.
_NOT_TAKEN = (
    "recurrent_initializer",
    "recurrent_regularizer",
    "recurrent_constraint",
    "zoneout_cell",
    "cell_clip",
)


class MinRNNCell(RecurrentCell):
    """Base of `MinGRUCell` and `MinLSTMCell`: no recurrent kernel, state [h].

    A subclass implements `coefficients`: a(t), b(t) (and log a(t)) of the
    recurrence h(t) = a(t) h(t-1) + b(t) from the projected inputs.
    """

    forget_block = None
    has_cell_state = False
    config_keys_not_taken = (*_NOT_TAKEN, "unit_forget_bias")

    def __init__(self, units, **arguments):
        reject_arguments(
            type(self).__name__,
            arguments,
            _NOT_TAKEN,
            "has no recurrent kernel or cell state",
        )
        activation = arguments.pop("activation", "tanh")
        super().__init__(units, **arguments)
        self.activation = get_activation(activation)
        if self.recurrent_dropout and self.recurrent_dropout_mode == "variational":
            raise ValueError(
                f"{type(self).__name__} has no recurrent matmul for variational "
                "recurrent dropout: use recurrent_dropout_mode='semeniuta' (a mask "
                "on the candidate h̃). Received: recurrent_dropout_mode="
                f"'variational' with recurrent_dropout={self.recurrent_dropout!r}"
            )

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"The last dimension of the inputs to {type(self).__name__} must be "
                f"known. Received: input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            shape=(input_dim, self.gate_units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self.bias_shape,
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _sigmoid_gates(self) -> bool:
        """Whether the gates are the sigmoid, whose logs have a stable form."""
        return self.recurrent_activation is activations.sigmoid

    def candidate(self, k_h, candidate_mask=None):
        """h̃ with Semeniuta recurrent dropout (`candidate_mask`, where drawn)."""
        h_tilde = self.activation(k_h)
        if candidate_mask is not None:
            h_tilde = h_tilde * candidate_mask
        return h_tilde

    def gates(self, gate_blocks):
        """`(a, s)`: the share a of h(t-1) that h keeps and the share s = 1 - a
        of h̃ that it takes in, from the gate blocks of z (all blocks but the
        last, the candidate's). A cell may compute s directly where that is
        more accurate than 1 - a (`MinGRUCell`: s = σ(k_z))."""
        raise NotImplementedError

    def gates_gradient(self, gate_blocks, a, s, grad_a):
        """dL/d(gate blocks) from dL/da, s being 1 - a, in closed form; None where
        the gates have no closed form here (autodiff of `gates` then).

        The fused training path (`lstmsuite.layers.min_rnn_fused`) calls it: the
        autodiff of the gates' stable forms costs more than the rest of a
        training step's element-wise work.
        """
        return None

    def coefficients(self, z, candidate_mask=None):
        """`(a, b, log_a)` of h = a * h(t-1) + b from the projected input `z`.

        `z`: one step `(batch, blocks * units)` or a sequence
        `(batch, time, blocks * units)`; `candidate_mask`: the Semeniuta mask
        broadcastable to h̃, or None. b = s * h̃ (see `gates`).
        """
        *gate_blocks, k_h = ops.split(z, self.gate_blocks, axis=-1)
        a, s = self.gates(gate_blocks)
        return a, s * self.candidate(k_h, candidate_mask), self.log_a(gate_blocks, a)

    def log_a(self, gate_blocks, a):
        """log a, for the log-space scan only (unused values are pruned from
        graphs): a stable form for sigmoid gates, log(a) otherwise."""
        return ops.log(a)

    def step(self, z, states, masks):
        h_tm1 = states[0]
        candidate_mask = None
        if masks.recurrent is not None and self.recurrent_dropout_mode == "semeniuta":
            candidate_mask = masks.recurrent
        a, b, _ = self.coefficients(z, candidate_mask)
        h = a * h_tm1 + b
        h = zoneout(h_tm1, h, masks.zoneout_hidden)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["activation"] = serialize_activation(self.activation)
        return config


class MinRNN(RecurrentLayer):
    """Base of `MinGRU` and `MinLSTM`: the whole sequence as one linear scan."""

    def fast_inner_loop(self, sequences, initial_state, mask, training):
        if self.unroll or scan_lib.form() == "loop":
            return None
        return min_rnn_scan(self, sequences, initial_state, mask, training)


def min_rnn_scan(layer, sequences, initial_state, mask, training):
    """What `keras_backend.rnn` returns for `layer` (a `MinRNN`), by a scan.

    `(last_output, outputs, [h])`, outputs in processing order. Everything the
    step loop does per step is folded into the coefficients of
    h(t) = a(t) h(t-1) + b(t) before the scan: a masked step has a = 1, b = 0;
    zoneout in training keeps h where its mask says (a = 1, b = 0 there), at
    inference it is its expectation (a' = r + (1 - r) a, b' = (1 - r) b); the
    Semeniuta mask multiplies h̃.
    """
    cell = layer.cell
    # A stateful layer passes its state variable: a tensor from here on (the
    # compiled tail below cannot take a Keras variable as an argument).
    h0 = initial_state[0]
    if isinstance(h0, keras.Variable):
        h0 = h0.value
    if layer.go_backwards:
        sequences = ops.flip(sequences, axis=1)
        if mask is not None:
            mask = ops.flip(mask, axis=1)
    # The same masks, drawn in the same order, as `RecurrentLayer.inner_loop`.
    masks = cell.sequence_masks(h0, training, sequences.shape[1])
    keep = None
    if training and cell.zoneout_hidden:
        batch, time = ops.shape(sequences)[0], ops.shape(sequences)[1]
        keep = cell._zoneout_mask((batch, time, cell.units), cell.zoneout_hidden)
        if layer.go_backwards:
            # Drawn in input order, as the step loop draws it and reverses it.
            keep = ops.flip(keep, axis=1)
    candidate_mask = None
    if masks.recurrent is not None and cell.recurrent_dropout_mode == "semeniuta":
        candidate_mask = ops.expand_dims(masks.recurrent, 1)

    method = scan_lib.form()
    inputs = cell.prepare_inputs(sequences, masks)
    # The sequential scan loops over the first axis: time-major from the input
    # projection on, no transpose of the (batch, time, units) tensors or their
    # gradients is left but the output's (with `return_sequences`); the input is
    # narrower than the projection (MinLSTM: 3 units wide) and its transpose
    # runs in TensorFlow's multi-threaded kernels.
    time_major = method == "sequential"
    if time_major:
        inputs = ops.transpose(inputs, (1, 0, 2))
        if keep is not None:
            keep = ops.transpose(keep, (1, 0, 2))
        if mask is not None:
            mask = ops.transpose(mask, (1, 0))
        if candidate_mask is not None:
            candidate_mask = ops.transpose(candidate_mask, (1, 0, 2))
    options = dict(
        training=training,
        zero_output_for_mask=layer.zero_output_for_mask,
        return_sequences=layer.return_sequences,
    )
    if time_major and keras.backend.backend() == "tensorflow":
        # The sequential scan with its gradient as one function (see there).
        z = min_rnn_fused.project_blocks(cell, inputs)
        tail = functools.partial(_fused_scan_tail, cell, **options)
    else:
        z = cell.project_inputs(inputs, masks)
        tail = functools.partial(
            _scan_tail, cell, method=method, time_major=time_major, **options
        )
    if _compile_tail(method):
        import tensorflow as tf

        tail = tf.function(tail, jit_compile=True, autograph=False)
    return tail(z, h0, keep, mask, candidate_mask)


# Whether TensorFlow graphs run the element-wise part (coefficients, scan,
# outputs) as one XLA cluster: it fuses a dozen passes over (batch, time, units)
# tensors and their gradients, which otherwise cost more than the matmul
# (MinGRU training at T=1000, 2-core CPU: 1.23-1.47 s without, 0.36 s with).
# Not for the log-space form: XLA's CPU cumulative logsumexp is quadratic in
# time (32 s), and on a GPU TensorFlow's own kernels are parallel scans.
_XLA_TAIL = True


def _compile_tail(method) -> bool:
    if not _XLA_TAIL or method == "log" or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.executing_eagerly()


def _scan_tail(
    cell,
    z,
    h0,
    keep,
    mask,
    candidate_mask,
    training,
    zero_output_for_mask,
    return_sequences,
    method,
    time_major=False,
):
    """`min_rnn_scan` from the projected inputs `z` on: coefficients, masks folded
    in, the scan, the outputs (batch-major, whatever `time_major` says of `z`,
    `keep`, `mask` and `candidate_mask`)."""
    dtype = z.dtype
    if dtype in ("float16", "bfloat16"):  # the scan in float32
        z, h0 = ops.cast(z, "float32"), ops.cast(h0, "float32")
        if candidate_mask is not None:
            candidate_mask = ops.cast(candidate_mask, "float32")
    a, b, log_a = cell.coefficients(z, candidate_mask)
    if keep is not None:
        a, b = ops.where(keep, 1.0, a), ops.where(keep, 0.0, b)
        log_a = ops.where(keep, 0.0, log_a)
    elif not training and cell.zoneout_hidden:
        rate = cell.zoneout_hidden
        a, b = a + rate * (1.0 - a), b * (1.0 - rate)
        log_a = ops.logaddexp(math.log(rate), math.log(1.0 - rate) + log_a)
    step_on = None
    if mask is not None:
        step_on = ops.expand_dims(ops.cast(mask, "bool"), -1)
        a, b = ops.where(step_on, a, 1.0), ops.where(step_on, b, 0.0)
        log_a = ops.where(step_on, log_a, 0.0)
    h = scan_lib.linear_scan(
        a, b, h0, log_a=log_a, method=method, time_major=time_major
    )

    return _scan_outputs(
        h, step_on, dtype, zero_output_for_mask, return_sequences, time_major
    )


def _fused_scan_tail(
    cell,
    z,
    h0,
    keep,
    mask,
    candidate_mask,
    training,
    zero_output_for_mask,
    return_sequences,
):
    """`_scan_tail` for TensorFlow's sequential form: time-major gate blocks `z`
    (a list) through `min_rnn_fused.fused_scan`, the same results."""
    dtype = z[0].dtype
    if dtype in ("float16", "bfloat16"):  # the scan in float32
        z = [ops.cast(block, "float32") for block in z]
        h0 = ops.cast(h0, "float32")
        if candidate_mask is not None:
            candidate_mask = ops.cast(candidate_mask, "float32")
    # Steps where h is held (a = 1, b = 0): masked steps and zoneout's keep mask
    # in training; at inference zoneout mixes a and b with its rate.
    held, rate = keep, 0.0
    if keep is None and not training and cell.zoneout_hidden:
        rate = cell.zoneout_hidden
    step_on = None
    if mask is not None:
        step_on = ops.expand_dims(ops.cast(mask, "bool"), -1)
        held = ops.logical_not(step_on) if held is None else held | ~step_on
    h = min_rnn_fused.fused_scan(
        cell, z, h0, held, rate, candidate_mask, last_only=not return_sequences
    )
    return _scan_outputs(
        h, step_on, dtype, zero_output_for_mask, return_sequences, time_major=True
    )


def _scan_outputs(
    h, step_on, dtype, zero_output_for_mask, return_sequences, time_major
):
    """`(last_output, outputs, [last_h])` as `keras_backend.rnn` gives them, from
    the scan's h: every step, or (without `return_sequences`) possibly the last
    step alone. `step_on`: the mask with a trailing axis, or None.

    A masked step keeps the state, so h there is the state held; the output there
    is the previous output, which on TensorFlow is zeros before the first step
    not masked (on JAX it is the previous state, i.e. h), or zeros with
    `zero_output_for_mask`.
    """
    time_axis = 0 if time_major else 1

    def last(t):
        return t[-1] if time_major else t[:, -1]

    shown = None  # where the output is h, not zeros
    if step_on is not None:
        if zero_output_for_mask:
            shown = step_on
        elif keras.backend.backend() == "tensorflow":
            shown = ops.cumsum(ops.cast(step_on, "int32"), axis=time_axis) > 0
    if return_sequences:
        outputs = h if shown is None else ops.where(shown, h, 0.0)
        last_output, last_h = last(outputs), last(h)
        outputs = ops.cast(outputs, dtype)
        if time_major:
            outputs = ops.transpose(outputs, (1, 0, 2))
    else:
        last_h = h if len(h.shape) == 2 else last(h)
        last_output = last_h if shown is None else ops.where(last(shown), last_h, 0.0)
        outputs = ops.expand_dims(ops.cast(last_output, dtype), 1)
    return ops.cast(last_output, dtype), outputs, [ops.cast(last_h, dtype)]


@keras.saving.register_keras_serializable(package="lstmsuite")
class MinGRUCell(MinRNNCell):
    """Cell class for `MinGRU` (one time step; Feng et al. 2024).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate h̃: `"tanh"` (default), any
            Keras activation, or `"min_rnn_g"` (the paper's g).
        recurrent_activation: Activation of the gate z (`"sigmoid"`).
        use_bias: Whether the layer has a bias vector.
        kernel_initializer, bias_initializer: Initializers of the kernel
            `(input_dim, 2 * units)` and the bias, blocks (z, h).
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

    >>> layer = keras.layers.RNN(MinGRUCell(8))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gate_blocks = 2
    # h keeps 1 - z: a larger z bias keeps less of it.
    retention_gate = (0, -1.0)

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
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
        arguments = arguments_of(locals())
        reject_arguments(
            "MinGRUCell", arguments, ("unit_forget_bias",), "has no forget gate"
        )
        super().__init__(unit_forget_bias=False, **arguments)

    def gates(self, gate_blocks):
        (k_z,) = gate_blocks
        gate = self.recurrent_activation(k_z)
        return 1.0 - gate, gate

    def gates_gradient(self, gate_blocks, a, s, grad_a):
        if not self._sigmoid_gates():
            return None
        # a = 1 - σ(k): da/dk = -σ(k) (1 - σ(k)) = -s a.
        return [-grad_a * a * s]

    def log_a(self, gate_blocks, a):
        if not self._sigmoid_gates():
            return ops.log(a)
        return -ops.softplus(gate_blocks[0])  # log(1 - σ(k)) = -softplus(k)


@keras.saving.register_keras_serializable(package="lstmsuite")
class MinGRU(MinRNN):
    """Minimal GRU layer (Feng et al. 2024, "Were RNNs All We Needed?").

    Gates and candidate depend on x(t) only: W x runs as one matmul for the
    whole sequence and the recurrence as a scan (`lstmsuite.layers.linear_scan`),
    many times faster than an LSTM for long sequences; masking, `go_backwards`,
    `initial_state`, `stateful`, zoneout and dropout behave as in `GRU`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias: As in `MinGRUCell`.
        kernel_initializer, bias_initializer: As in `MinGRUCell`.
        kernel_regularizer, bias_regularizer: Regularizers of the weights.
        activity_regularizer: Regularizer of the layer's output.
        kernel_constraint, bias_constraint: Constraints.
        dropout, recurrent_dropout, seed: As in `MinGRUCell`.
        return_sequences: Whether to return the whole sequence or the last output.
        return_state: Whether to also return the last state `h`.
        go_backwards: If True, process the input backwards and return the
            reversed sequence.
        stateful: If True, the last state of each sample in a batch is the
            initial state of that sample in the next batch.
        unroll: If True, run the generic step loop unrolled instead of the scan.
        recurrent_dropout_mode, zoneout_hidden: As in `MinGRUCell`.
        zero_output_for_mask: Whether masked steps output zeros (with
            `return_sequences`) instead of the previous output.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: List `[h]` or a tensor `h`.

    Example:

    >>> MinGRU(4)(np.zeros((2, 10, 8), "float32")).shape
    (2, 4)
    """

    cell_class = MinGRUCell

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
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
