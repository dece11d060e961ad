"""`MLSTMCell` and `MLSTM`: the matrix-memory LSTM of xLSTM.

Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory" (arXiv 2405.04517),
section 2.3. Per head (units = num_heads * head_dim, d = head_dim), with every
gate computed from x(t) alone (no recurrent weights):

    q = W_q x + b_q     k = (W_k x + b_k) / √d     v = W_v x + b_v
    ĩ = w_i x + b_i     f̃ = w_f x + b_f            (one scalar per head)
    o = σ(W_o x + b_o)                             (units wide)
    i = exp(ĩ)          f = σ(f̃)  (forget_gate="sigmoid")  or exp(f̃)
    C(t) = f C(t-1) + i v kᵀ          n(t) = f n(t-1) + i k
    h̃ = C(t) q / max(|n(t)ᵀ q|, 1)    h = o * h̃

What the layer computes is the stabilized form (the paper's appendix): with
m(t) = max(log f + m(t-1), ĩ), i' = exp(ĩ - m(t)), f' = exp(log f + m(t-1) - m(t)),

    C̃(t) = f' C̃(t-1) + i' v kᵀ      ñ(t) = f' ñ(t-1) + i' k
    h̃ = C̃(t) q / max(|ñ(t)ᵀ q|, exp(-m(t)))

C̃ = exp(-m) C and ñ = exp(-m) n, so the stabilizer cancels and h̃ is exactly the
unstabilized one, while the gates' exp() never sees a positive argument. Unlike the
reference code (NX-AI/xlstm, `backends.py`) no eps (1e-6) is added to the
denominator: it is at least exp(-m(t)) > 0 already, and without eps both forms
are equal in exact arithmetic.

States (flat, h first): [h (units), C̃ (num_heads * head_dim * head_dim, per head
the matrix C̃[value index, key index], row-major), ñ (units), m (num_heads)];
zeros initially (m(0) = 0).

Weights: one `kernel` (input_dim, 4 * units + 2 * num_heads) and one `bias`
(4 * units + 2 * num_heads,), blocks [q, k, v, o, ĩ, f̃] (each of q, k, v, o
head-major: head 0's head_dim columns first).

Forms. `MLSTMCell.step` is the recurrent form (one step, used by
`keras.layers.RNN(cell)` and step-by-step decoding). `MLSTM` computes a whole
sequence without a time loop (`mlstm_chunkwise`): within chunks of `CHUNK_SIZE`
steps the parallel form ((q kᵀ ⊙ D) v with the log-decay matrix D from
cumsum(log f), stabilized by its row maximum), and across chunks the same
parallel form one level up, over the chunks' summaries (so every chunk's
starting state comes from one matmul, not a loop). A sequence of at most
`CHUNK_SIZE` steps is one chunk: the plain parallel form; a longer one of known
length is split into equal chunks of at most `CHUNK_SIZE` steps (T = 1000: 16
of 63, the last padded with masked steps). A masked step has log f = 0 and
ĩ = -∞ (it keeps C̃, ñ and m). The parallel form's memory grows as T² per head
(B=64, T=1000, 4 heads: 1 GB a matrix), the chunkwise form's as T * CHUNK_SIZE.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from lstmsuite.layers.recurrent import (
    CellAttribute,
    RecurrentCell,
    RecurrentLayer,
    arguments_of,
    check_units,
    reject_arguments,
)

FORGET_GATES = ("sigmoid", "exponential")

# Steps per chunk of the whole-sequence form (see `MLSTM`, measured on a 2-core
# CPU); a sequence of at most this many steps runs as one chunk (parallel form).
CHUNK_SIZE = 64

# The log weight of a masked step (ĩ = -∞): finite, so that no -∞ - (-∞) makes a
# NaN (not even in a branch `where` discards, whose gradient would be NaN * 0);
# exp() of it, or of it minus any finite stabilizer, is exactly 0 in float32.
_NEG = -1e30

# The arguments of `RecurrentCell` an mLSTM does not take (no recurrent weights,
# no activations to choose, no zoneout or clipping).
_UNUSED = (
    "activation",
    "recurrent_activation",
    "recurrent_initializer",
    "recurrent_regularizer",
    "recurrent_constraint",
    "zoneout_cell",
    "zoneout_hidden",
    "cell_clip",
)


def _accumulation_dtype(dtype):
    """The recurrence of a float16/bfloat16 layer runs in float32 (its stabilizer
    exp(-m) underflows in float16 for m > 17)."""
    dtype = keras.backend.standardize_dtype(dtype)
    return "float32" if dtype in ("float16", "bfloat16") else dtype


def _over_time(mask, x):
    """A per-sequence mask (batch, width) shaped to multiply x, one step
    (batch, width) or a sequence (batch, time, width)."""
    return mask[:, None] if len(x.shape) == 3 else mask


def _as_stored(m, dtype):
    """m (accumulation dtype) rounded as a state of `dtype` stores it."""
    if keras.backend.standardize_dtype(dtype) == keras.backend.standardize_dtype(
        m.dtype
    ):
        return m
    return ops.cast(ops.cast(m, dtype), m.dtype)


def _divide(numerator, denominator):
    """numerator / denominator[..., None], as two divisions by √denominator.

    The denominator max(|ñᵀq|, exp(-m)) is as small as exp(-m): 1.8e-35 for
    m = 80. JAX differentiates x / y as -x * y⁻², and y⁻² overflows float32
    for y < 1e-19: at a step whose numerator is 0 (a padded step of the
    chunkwise form, where q = 0) that is 0 * inf = NaN. Dividing twice by √y,
    each factor stays finite while y is a normal float (m < 87)."""
    root = ops.sqrt(denominator)[..., None]
    return numerator / root / root


def forget_bias(num_heads, forget_gate):
    """xLSTM's forget-gate biases: linspace(3, 6) over the heads (f = σ(3) ...
    σ(6) = 0.95 ... 0.998); log σ of those for the exponential gate (same f)."""
    if num_heads == 1:
        values = [3.0]
    else:
        values = [3.0 + 3.0 * h / (num_heads - 1) for h in range(num_heads)]
    if forget_gate == "exponential":
        values = [-math.log1p(math.exp(-x)) for x in values]
    return values


@keras.saving.register_keras_serializable(package="lstmsuite")
class MLSTMCell(RecurrentCell):
    """Cell class for `MLSTM`: one step of the mLSTM (Beck et al. 2024).

    Every gate is computed from x(t): the cell has one `kernel`
    `(input_dim, 4 * units + 2 * num_heads)` and one `bias`, blocks
    [q, k, v, o, ĩ, f̃], and no recurrent kernel. The states are
    `[h, C̃, ñ, m]`, of sizes `units`, `num_heads * head_dim ** 2`, `units`,
    `num_heads` (see the module docstring for the equations).

    Initialization (xLSTM's, with `unit_forget_bias=True`): the forget-gate
    biases are linspace(3, 6) over the heads (f = 0.95 ... 0.998; log σ of those
    with `forget_gate="exponential"`, the same f); every other bias, the input
    gate's included, comes from `bias_initializer` (zeros: xLSTM draws ĩ's bias
    from N(0, 0.1); the -10 of the 7B model presumes the block's output norm,
    which this layer has not, and would start h near 0).

    Args:
        units: Positive integer, dimensionality of the output space
            (`num_heads * head_dim`).
        num_heads: Positive integer that divides `units`: the number of heads,
            each with its own `head_dim x head_dim` memory and scalar gates.
        forget_gate: `"sigmoid"` (f = σ(f̃), the reference code's) or
            `"exponential"` (f = exp(f̃)).
        use_bias: Whether the projections have a bias vector.
        kernel_initializer, bias_initializer: Initializers of the kernel and the
            bias.
        unit_forget_bias: If True, the forget-gate biases start at xLSTM's
            linspace(3, 6) over the heads (see above); else `bias_initializer`.
        kernel_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, bias_constraint: Constraints.
        dropout: Float in [0, 1). Fraction of the inputs to drop, one mask per
            sequence.
        recurrent_dropout: Float in [0, 1). Semeniuta-style dropout of the value
            v written into the memory, one mask per sequence (needs
            `recurrent_dropout_mode="semeniuta"`).
        seed: Random seed for dropout.
        recurrent_dropout_mode: `"semeniuta"` (mask on v). `"variational"` (the
            default of the other cells) drops h(t-1) before a recurrent matmul,
            which the mLSTM has not: with it, `recurrent_dropout` must be 0.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List `[h, C̃, ñ, m]` of the previous states.
        training: Python boolean, whether dropout is active.

    Example:

    >>> layer = keras.layers.RNN(MLSTMCell(8, num_heads=2))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    forget_block = None
    config_keys_not_taken = _UNUSED

    def __init__(
        self,
        units,
        num_heads=1,
        forget_gate="sigmoid",
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
        **kwargs,
    ):
        arguments = arguments_of(locals())
        num_heads = arguments.pop("num_heads")
        forget_gate = arguments.pop("forget_gate")
        reject_arguments(
            "MLSTMCell",
            arguments,
            _UNUSED,
            "computes every gate from x and has no cell clipping or zoneout",
        )
        super().__init__(**arguments)
        self.num_heads = check_units("num_heads", num_heads)
        if self.units % self.num_heads:
            raise ValueError(
                "Argument `num_heads` must divide `units`. Received: "
                f"num_heads={num_heads!r} (units={self.units})"
            )
        if forget_gate not in FORGET_GATES:
            raise ValueError(
                f"Argument `forget_gate` must be one of {FORGET_GATES}. "
                f"Received: forget_gate={forget_gate!r}"
            )
        self.forget_gate = forget_gate
        if self.recurrent_dropout and self.recurrent_dropout_mode == "variational":
            raise ValueError(
                "MLSTMCell has no recurrent matmul to drop h(t-1) before: "
                "with `recurrent_dropout`, argument `recurrent_dropout_mode` must "
                "be 'semeniuta' (a mask on v). "
                f"Received: recurrent_dropout_mode={recurrent_dropout_mode!r}, "
                f"recurrent_dropout={recurrent_dropout!r}"
            )

    @property
    def head_dim(self):
        return self.units // self.num_heads

    @property
    def state_size(self):
        heads, dim = self.num_heads, self.head_dim
        return [self.units, heads * dim * dim, self.units, heads]

    @property
    def gate_units(self):
        return 4 * self.units + 2 * self.num_heads

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
        self.recurrent_kernel = None
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.gate_units,),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        rest = 4 * self.units + self.num_heads
        values = forget_bias(self.num_heads, self.forget_gate)

        def bias_initializer(_, dtype=None, **kwargs):
            return ops.concatenate(
                [
                    self.bias_initializer((rest,), dtype=dtype),
                    ops.convert_to_tensor(values, dtype=dtype),
                ]
            )

        return bias_initializer

    # The step.
    def split_projection(self, z, masks=None):
        """The projected input z (..., 4 units + 2 heads) as the mLSTM's inputs.

        Returns `(q, k, v, o_pre, i_pre, log_f)`: q, k (scaled by 1/√d), v
        (Semeniuta-dropped) of shape (..., heads, head_dim), the output gate's
        pre-activation (..., units), ĩ and log f (..., heads); all but o_pre in
        the accumulation dtype (float32 for float16 layers).
        """
        units, heads = self.units, self.num_heads
        q, k, v, o_pre, i_pre, f_pre = ops.split(
            z, [units, 2 * units, 3 * units, 4 * units, 4 * units + heads], axis=-1
        )
        if masks is not None and masks.recurrent is not None:
            mask = masks.recurrent  # (batch, units), one per sequence
            v = self.semeniuta(v, masks._replace(recurrent=_over_time(mask, v)))
        dtype = _accumulation_dtype(z.dtype)
        q, k, v, i_pre, f_pre = (ops.cast(t, dtype) for t in (q, k, v, i_pre, f_pre))
        k = k * (1.0 / math.sqrt(self.head_dim))
        if self.forget_gate == "sigmoid":
            log_f = ops.log_sigmoid(f_pre)
        else:
            log_f = f_pre
        shape = ops.shape(q)
        split = tuple(shape[:-1]) + (heads, self.head_dim)
        q, k, v = (ops.reshape(t, split) for t in (q, k, v))
        return q, k, v, o_pre, i_pre, log_f

    def step(self, z, states, masks):
        h_tm1, c_tm1, n_tm1, m_tm1 = states
        heads, dim = self.num_heads, self.head_dim
        q, k, v, o_pre, i_pre, log_f = self.split_projection(z, masks)
        dtype = q.dtype
        c_tm1 = ops.reshape(ops.cast(c_tm1, dtype), (-1, heads, dim, dim))
        n_tm1 = ops.reshape(ops.cast(n_tm1, dtype), (-1, heads, dim))
        m_tm1 = ops.cast(m_tm1, dtype)

        # As stored: a float16 state rounds m (by up to 0.03 at m = 80), so the
        # step stabilizes by the rounded m, which C̃ and ñ then match exactly.
        m = _as_stored(ops.maximum(log_f + m_tm1, i_pre), h_tm1.dtype)
        i = ops.exp(i_pre - m)[..., None]
        f = ops.exp(log_f + m_tm1 - m)[..., None]
        n = f * n_tm1 + i * k
        c = f[..., None] * c_tm1 + (i * v)[..., :, None] * k[..., None, :]
        numerator = ops.sum(c * q[..., None, :], axis=-1)
        nq = ops.sum(n * q, axis=-1)
        denominator = ops.maximum(ops.abs(nq), ops.exp(-m))
        h_tilde = ops.reshape(_divide(numerator, denominator), (-1, self.units))
        h = ops.sigmoid(o_pre) * ops.cast(h_tilde, o_pre.dtype)
        out = h_tm1.dtype
        new_states = [
            h,
            ops.cast(ops.reshape(c, (-1, heads * dim * dim)), out),
            ops.cast(ops.reshape(n, (-1, self.units)), out),
            ops.cast(m, out),
        ]
        return h, new_states

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "forget_gate": self.forget_gate,
        }


def mlstm_chunkwise(q, k, v, i_pre, log_f, c0, n0, m0, chunk_size=None):
    """The stabilized mLSTM over a whole sequence, without a time loop.

    q, k, v: (batch, heads, time, d) (k scaled by 1/√d); i_pre, log_f:
    (batch, heads, time), with ĩ = `_NEG` and log f = 0 at masked steps; c0
    (batch, heads, d, d) [value, key], n0 (batch, heads, d), m0 (batch, heads):
    the initial state. `chunk_size`: steps per chunk, or None for one chunk (the
    parallel form). Returns `(h̃ (batch, heads, time, d), (C̃, ñ, m) after the
    last step)`.

    Within a chunk, with b the cumsum of log f from the chunk's start, step j
    sees step s <= j with log weight b_j - b_s + ĩ_s and the chunk's starting
    state (stabilized by M, its m) with b_j + M; m_j is the maximum of those
    (equal to the recurrent m_j). A chunk's summary is its state at its end
    relative to its own start (stabilized by its maximum log weight); the
    starting states of all chunks come from those summaries by the same
    parallel form, one level up (chunk = step).
    """
    batch, heads, time, dim = ops.shape(q)
    if chunk_size is None or (isinstance(time, int) and time <= chunk_size):
        length, chunks, pad = time, 1, 0
    else:
        length = chunk_size
        pad = (-time) % length
        chunks = (time + pad) // length
    if not isinstance(pad, int) or pad:

        def padded(x, value):
            shape = ops.shape(x)
            tail = ops.full((shape[0], shape[1], pad, *shape[3:]), value, dtype=x.dtype)
            return ops.concatenate([x, tail], axis=2)

        q, k, v = (padded(t, 0.0) for t in (q, k, v))
        i_pre, log_f = padded(i_pre, _NEG), padded(log_f, 0.0)

    def chunked(x):
        return ops.reshape(x, (batch, heads, chunks, length, *ops.shape(x)[3:]))

    q, k, v, i_pre, log_f = (chunked(t) for t in (q, k, v, i_pre, log_f))
    b = ops.cumsum(log_f, axis=-1)  # (B, H, NS, L)
    b_end = b[..., -1]  # (B, H, NS): the log decay of each whole chunk

    # The chunks' summaries: their state at their end, from their own steps only.
    w = b_end[..., None] - b + i_pre  # (B, H, NS, L)
    m_local = ops.max(w, axis=-1)  # (B, H, NS)
    weight = ops.exp(w - m_local[..., None])
    kv = ops.einsum("bhcsv,bhcsk->bhcvk", v * weight[..., None], k)
    k_sum = ops.einsum("bhcs,bhcsk->bhck", weight, k)

    # Every chunk's end state, from the initial state and the summaries.
    if isinstance(chunks, int) and chunks == 1:
        m_end = ops.maximum(b_end + m0[..., None], m_local)
        scale0 = ops.exp(b_end + m0[..., None] - m_end)
        scale = ops.exp(m_local - m_end)
        c_end = scale0[..., None, None] * c0[:, :, None] + scale[..., None, None] * kv
        n_end = scale0[..., None] * n0[:, :, None] + scale[..., None] * k_sum
        c_in, n_in, m_in = c0[:, :, None], n0[:, :, None], m0[..., None]
    else:
        decay = ops.cumsum(b_end, axis=-1)  # (B, H, NS)
        log_w = decay[..., :, None] - decay[..., None, :] + m_local[..., None, :]
        index = ops.arange(chunks)
        log_w = ops.where(index[:, None] >= index[None, :], log_w, _NEG)
        log_w0 = decay + m0[..., None]
        m_end = ops.maximum(ops.max(log_w, axis=-1), log_w0)  # (B, H, NS)
        weights = ops.exp(log_w - m_end[..., None])
        scale0 = ops.exp(log_w0 - m_end)
        c_end = ops.einsum("bhcx,bhxvk->bhcvk", weights, kv)
        c_end = c_end + scale0[..., None, None] * c0[:, :, None]
        n_end = ops.einsum("bhcx,bhxk->bhck", weights, k_sum)
        n_end = n_end + scale0[..., None] * n0[:, :, None]
        # Each chunk starts from the end state of the one before.
        c_in = ops.concatenate([c0[:, :, None], c_end[:, :, :-1]], axis=2)
        n_in = ops.concatenate([n0[:, :, None], n_end[:, :, :-1]], axis=2)
        m_in = ops.concatenate([m0[..., None], m_end[..., :-1]], axis=-1)

    # Each step: its chunk's starting state plus the chunk's steps so far.
    log_d = b[..., :, None] - b[..., None, :] + i_pre[..., None, :]  # (..., L, L)
    index = ops.arange(length)
    log_d = ops.where(index[:, None] >= index[None, :], log_d, _NEG)
    log_start = b + m_in[..., None]  # (B, H, NS, L)
    m = ops.maximum(ops.max(log_d, axis=-1), log_start)
    d_matrix = ops.exp(log_d - m[..., None])
    start = ops.exp(log_start - m)
    scores = ops.einsum("bhcjk,bhcsk->bhcjs", q, k) * d_matrix
    numerator = ops.einsum("bhcjs,bhcsv->bhcjv", scores, v)
    numerator = numerator + start[..., None] * ops.einsum("bhcjk,bhcvk->bhcjv", q, c_in)
    nq = ops.sum(scores, axis=-1) + start * ops.einsum("bhcjk,bhck->bhcj", q, n_in)
    denominator = ops.maximum(ops.abs(nq), ops.exp(-m))
    h_tilde = _divide(numerator, denominator)
    h_tilde = ops.reshape(h_tilde, (batch, heads, chunks * length, dim))
    if not isinstance(pad, int) or pad:
        h_tilde = h_tilde[:, :, :time]
    return h_tilde, (c_end[:, :, -1], n_end[:, :, -1], m_end[..., -1])


@keras.saving.register_keras_serializable(package="lstmsuite")
class MLSTM(RecurrentLayer):
    """Matrix-memory LSTM layer (mLSTM, Beck et al. 2024, xLSTM).

    A whole sequence runs without a time loop: the parallel form within chunks
    of `CHUNK_SIZE` (64) steps and across them (see `mlstm_chunkwise`), exact
    for any initial state, mask and `go_backwards`. Measured on a 2-core CPU
    (B=64, T=1000, 128 features, units=256, 4 heads, TensorFlow): a training
    step 1.7-1.9 s against 9.7 s for the step loop, inference 0.5-0.7 s
    against 5.4 s (one chunk of 1000: 1.6 s); on JAX inference 1.0 against
    1.2 s. The step loop remains for `unroll=True` and in
    `keras.layers.RNN(MLSTMCell(...))` (step-by-step decoding).

    Args:
        units: Positive integer, dimensionality of the output space.
        num_heads, forget_gate: As in `MLSTMCell`.
        use_bias: Whether the projections have a bias vector.
        kernel_initializer, bias_initializer: Initializers.
        unit_forget_bias: As in `MLSTMCell` (xLSTM's forget-gate biases).
        kernel_regularizer, bias_regularizer: Regularizers of the weights.
        activity_regularizer: Regularizer of the layer's output.
        kernel_constraint, bias_constraint: Constraints.
        dropout, recurrent_dropout, seed: As in `MLSTMCell`.
        return_sequences: Whether to return the whole sequence or the last output.
        return_state: Whether to also return the last states `[h, C̃, ñ, m]`.
        go_backwards: If True, process the input backwards and return the
            reversed sequence.
        stateful: If True, the last state of each sample in a batch is the
            initial state of that sample in the next batch.
        unroll: If True, run the unrolled step loop instead of the parallel form.
        recurrent_dropout_mode: As in `MLSTMCell`.
        zero_output_for_mask: Whether masked steps output zeros (with
            `return_sequences`) instead of the previous output.
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout is active.
        initial_state: List `[h, C̃, ñ, m]` of initial states.

    Example:

    >>> MLSTM(8, num_heads=2)(np.zeros((2, 10, 4), "float32")).shape
    (2, 8)
    """

    cell_class = MLSTMCell
    num_heads = CellAttribute()
    forget_gate = CellAttribute()

    def __init__(
        self,
        units,
        num_heads=1,
        forget_gate="sigmoid",
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
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**arguments_of(locals()))
        # Which form runs a sequence (for tests and measurements): "auto" (chunks
        # of CHUNK_SIZE), "parallel" (one chunk), "chunkwise" (chunks of
        # `_chunk_size`) or "recurrent" (the step loop).
        self._form = "auto"
        self._chunk_size = CHUNK_SIZE

    def fast_inner_loop(self, sequences, initial_state, mask, training):
        if self.unroll or self._form == "recurrent":
            return None
        chunk_size = {"parallel": None, "chunkwise": self._chunk_size}.get(
            self._form, _auto_chunk_size(sequences.shape[1])
        )
        cell = self.cell
        heads, dim = cell.num_heads, cell.head_dim
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            if mask is not None:
                mask = ops.flip(mask, axis=1)
        masks = cell.step_masks(initial_state[0], training)
        sequences = cell.prepare_inputs(sequences, masks)
        z = cell.project_inputs(sequences, masks)
        q, k, v, o_pre, i_pre, log_f = cell.split_projection(z, masks)
        dtype = q.dtype
        if mask is not None:
            keep = ops.cast(mask, "bool")[..., None]  # (B, T, 1)
            i_pre = ops.where(keep, i_pre, _NEG)
            log_f = ops.where(keep, log_f, 0.0)
        h0, c0, n0, m0 = initial_state
        h_tilde, (c, n, m) = mlstm_chunkwise(
            *(ops.transpose(t, (0, 2, 1, 3)) for t in (q, k, v)),
            *(ops.transpose(t, (0, 2, 1)) for t in (i_pre, log_f)),
            ops.reshape(ops.cast(c0, dtype), (-1, heads, dim, dim)),
            ops.reshape(ops.cast(n0, dtype), (-1, heads, dim)),
            ops.cast(m0, dtype),
            chunk_size,
        )
        shape = ops.shape(o_pre)
        h_tilde = ops.reshape(ops.transpose(h_tilde, (0, 2, 1, 3)), shape)
        outputs = ops.sigmoid(o_pre) * ops.cast(h_tilde, o_pre.dtype)
        h = outputs[:, -1]
        if mask is not None:
            outputs, h = _masked_outputs(outputs, h0, mask, self.zero_output_for_mask)
        out = h0.dtype
        standardize = keras.backend.standardize_dtype
        if standardize(out) != standardize(dtype):
            # The final C̃ and ñ rescaled to m as a float16 state stores it.
            m_stored = _as_stored(m, out)
            rescale = ops.exp(m - m_stored)
            c, n = c * rescale[..., None, None], n * rescale[..., None]
            m = m_stored
        states = [
            ops.cast(h, out),
            ops.cast(ops.reshape(c, (-1, heads * dim * dim)), out),
            ops.cast(ops.reshape(n, (-1, cell.units)), out),
            ops.cast(m, out),
        ]
        last_output = outputs[:, -1]
        if not self.return_sequences:
            outputs = last_output[:, None]
        return last_output, outputs, states


def _auto_chunk_size(time):
    """`CHUNK_SIZE`, or for a known length the least chunk length that splits it
    into as many chunks, so that little padding is computed (T = 100: 2 chunks
    of 50, not 2 of 64; T = 1000: 16 of 63)."""
    if time is None:
        return CHUNK_SIZE
    chunks = -(-time // CHUNK_SIZE)
    return -(-time // chunks)


def _masked_outputs(outputs, h0, mask, zero_output_for_mask):
    """Keras's masking of a sequence computed at every step: a masked step
    outputs the previous output (before the first unmasked step: zeros on
    TensorFlow, h0 on JAX, as `keras.layers.RNN` there), or zeros with
    `zero_output_for_mask`. Returns `(outputs, h)`, h the last unmasked
    step's output, or `h0` if none."""
    mask = ops.cast(mask, "bool")
    time = ops.shape(mask)[1]
    # The index of the last unmasked step so far (-1: none yet).
    last = ops.where(mask, ops.arange(time, dtype="int32")[None, :], -1)
    last = _cumulative_max(last, time)
    filled = ops.take_along_axis(
        outputs,
        ops.broadcast_to(ops.maximum(last, 0)[..., None], ops.shape(outputs)),
        axis=1,
    )
    seen = last[..., None] >= 0
    h0 = ops.cast(h0, outputs.dtype)
    h = ops.where(seen[:, -1], filled[:, -1], h0)
    if zero_output_for_mask:
        return ops.where(mask[..., None], outputs, 0.0), h
    # Before the first unmasked step Keras's TensorFlow loop outputs zeros, its
    # JAX loop the initial h (its "previous output" is the state h).
    before = h0[:, None] if keras.backend.backend() == "jax" else 0.0
    return ops.where(seen, filled, before), h


def _cumulative_max(x, time):
    """The running maximum of x (batch, time) along time, for values >= -1.

    By doubling shifts (log2(time) maxima), not `ops.associative_scan`, whose
    TensorFlow version branches on shapes that XLA cannot compile for a
    dynamic time dimension (then it takes 31 shifts, enough for any length).
    """
    static = isinstance(time, int)
    shift = 1
    while shift < (time if static else 2**31):
        width = shift if static else ops.minimum(shift, time)
        shifted = ops.concatenate(
            [ops.full_like(x[:, :width], -1), x[:, : time - width]], axis=1
        )
        x = ops.maximum(x, shifted)
        shift *= 2
    return x
