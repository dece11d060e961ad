"""The linear recurrence h(t) = a(t) * h(t-1) + b(t), for a whole sequence at once.

`MinGRU` and `MinLSTM` (Feng et al. 2024, "Were RNNs All We Needed?",
arXiv 2410.01201) compute their gates from x(t) alone, so that their whole
recurrence is this element-wise linear one, with a and b known before the loop.
`linear_scan(a, b, h0)` returns every h(t) (`a`, `b`: `(batch, time, units)`,
`h0`: `(batch, units)`) in one of these forms, all with the same values and
gradients:

- `"log"`: the parallel scan in log space of the paper's appendix,
      log A(t) = Σ_{k<=t} log a(k)
      h(t) = A(t) h0 + exp(log A(t) + logcumsumexp_{k<=t}(log b(k) - log A(k))),
  with b split into its positive and negative parts (two logcumsumexps), so that
  b may have either sign. O(log T) depth: the form for GPUs (and TPUs).
- `"chunked"`: the time axis in chunks of `_CHUNK` steps: a loop over the steps
  of a chunk, run for all chunks at once, gives each chunk's a- and b-products;
  a loop over the chunks carries the state from one chunk into the next; a second
  loop over the steps of a chunk computes h from those carries. About 2 sqrt(T)
  loop steps instead of T, each on a tensor sqrt(T) times larger.
- `"sequential"`: one loop over time (`tf.scan`; `jax.lax.scan`).
- `"associative"` (JAX only): `jax.lax.associative_scan` of the pairs (a, b).

On TensorFlow, `"chunked"` and `"sequential"` have their own gradient (a custom
gradient), itself one reverse linear scan of the same form:
    g(t) = dL/dh(t) + a(t+1) g(t+1),   dL/db(t) = g(t),
    dL/da(t) = g(t) h(t-1),            dL/dh0 = a(0) g(0);
autodiff of a `tf.while_loop` keeps every step's tensors in stacks and was
slower. On JAX, autodiff of these forms is already a reverse scan.

Which form runs (`form()`): `_FORM` when set (tests set it to run each form),
else `"log"` on a GPU or TPU (an H200 with JAX: MinGRU 10.4 ms, MinLSTM 9.4 ms
for the training step below, 3.8x and 4.2x faster than cuDNN's LSTM; the other
forms were not timed there), and on a CPU the form measured fastest
(`_CPU_FORM`): `MinGRU(256)` / `MinLSTM(256)` training steps (forward,
backward, SGD) at B=64, T=1000, 128 features, 2-core CPU, each candidate timed
in interleaved rounds (the machine was shared, so figures moved by up to 2x
between runs):

- TensorFlow: `"sequential"`, run with everything after the input matmul in one
  XLA cluster (`min_gru._scan_tail`): MinGRU 0.29-0.38 s, MinLSTM 0.46-0.61 s;
  `"chunked"` 0.54-0.65 / 0.74-0.86 s; without XLA `"sequential"` 0.41-1.47 s,
  `"chunked"` 0.47-1.23 s; the per-step loop 0.39-0.88 / 0.77-1.03 s; `"log"`
  6.0 s (32 s inside XLA, whose CPU cumulative logsumexp is quadratic in time).
  `lstmsuite.layers.LSTM(256)`: 1.31-2.61 s in the same runs. Time-major since
  (`time_major`): in `lstmsuite bench layers`, MinGRU 0.38 s, MinLSTM 0.77 s,
  `LSTM(256)` 2.23 s. The layers now train through `min_rnn_fused` on this form
  (its own gradient, closed-form gates, one matmul per gate block): MinGRU
  0.20 s, MinLSTM 0.28 s, `LSTM(256)` 1.59 s (docs/performance.md).
- JAX: `"loop"`, i.e. the layers' generic per-step loop (`RecurrentLayer`), with
  the projection in the loop: MinGRU 0.57-0.61 s, MinLSTM 0.87 s; `"sequential"`
  0.60-1.18 / 0.89-0.98 s; `"associative"` 0.90-2.0 / 1.2 s; `"chunked"` 8.8 s;
  `"log"` 4.5 s. `LSTM(256)`: 1.62-1.66 s.
"""

from __future__ import annotations

import functools

import keras
from keras import ops

from lstmsuite.layers.recurrent import jax_platform

# Private switch: None (automatic), one of FORMS, or `"loop"`: MinGRU/MinLSTM
# then run the generic step loop of `RecurrentLayer` instead of a scan.
_FORM = None
FORMS = ("log", "chunked", "sequential", "associative")

# Steps per chunk of the "chunked" form.
_CHUNK = 32

# The CPU form per backend (see the module docstring for the measurements;
# `tests/layers/test_min_rnn.py` checks every form). "loop": the layers' step
# loop, which `linear_scan` itself runs as "sequential".
_CPU_FORM = {"tensorflow": "sequential", "jax": "loop"}

# log(0) in the log-space form: finite, so that no gradient meets inf - inf.
_LOG_ZERO = -1e30


def form() -> str:
    """The form `linear_scan` uses now (see the module docstring)."""
    if _FORM is not None:
        return _FORM
    backend = keras.backend.backend()
    if _on_accelerator(backend):
        return "log"
    return _CPU_FORM.get(backend, "sequential")


def _on_accelerator(backend) -> bool:
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU")) or bool(
            tf.config.list_logical_devices("TPU")
        )
    if backend == "jax":
        return jax_platform() in ("gpu", "tpu")
    return False


def linear_scan(a, b, h0, log_a=None, method=None, time_major=False):
    """Every h(t) = a(t) * h(t-1) + b(t) of a sequence, from h(-1) = h0.

    Args:
        a, b: Tensors `(batch, time, units)`, or `(time, batch, units)` with
            `time_major`.
        h0: Tensor `(batch, units)`.
        log_a: Optional log(a), computed more accurately by the caller (the
            log-space form uses it; the others ignore it).
        method: One of `FORMS`, or None for `form()`.
        time_major: Whether `a`, `b` and the result have time first. The
            "sequential" form loops over the first axis, so time-major tensors
            save it a transpose of a, b, h and of their gradients (MinGRU
            training at T=1000, 2-core CPU: the scan's forward and backward
            196-206 ms batch-major, 150-155 ms time-major); the other forms
            transpose.

    Returns:
        h, a tensor of the layout of `a`.
    """
    method = method or form()
    if method == "loop":  # the layers' switch; a plain scan here
        method = "sequential"
    if time_major and method != "sequential":
        a, b = (ops.transpose(t, (1, 0, 2)) for t in (a, b))
        log_a = None if log_a is None else ops.transpose(log_a, (1, 0, 2))
        h = linear_scan(a, b, h0, log_a=log_a, method=method)
        return ops.transpose(h, (1, 0, 2))
    if method == "log":
        return log_scan(a, b, h0, log_a)
    backend = keras.backend.backend()
    if method == "chunked":
        scan = _chunked_scan
    elif method == "sequential":
        scan = _sequential_scan
    elif method == "associative":
        if backend != "jax":
            raise ValueError(
                "The 'associative' form of linear_scan needs the JAX backend. "
                f"Received: method={method!r} on {backend}"
            )
        return _associative_scan(a, b, h0)
    else:
        raise ValueError(
            f"Argument `method` must be one of {FORMS} or None. "
            f"Received: method={method!r}"
        )
    if method == "sequential":
        scan = functools.partial(_sequential_scan, time_major=time_major)
    if backend == "tensorflow":
        return _tf_scan_with_gradient(scan, time_major)(a, b, h0)
    return scan(a, b, h0)


# The log-space parallel form (Feng et al. 2024, appendix).


def log_scan(a, b, h0, log_a=None):
    """`linear_scan`'s "log" form: cumsum and logcumsumexp over time."""
    dtype = a.dtype
    if dtype in ("float16", "bfloat16"):  # log space needs float32's range
        a, b, h0 = (ops.cast(t, "float32") for t in (a, b, h0))
        log_a = None if log_a is None else ops.cast(log_a, "float32")
    if log_a is None:
        log_a = ops.log(a)
    log_big_a = ops.cumsum(log_a, axis=1)
    h = ops.exp(log_big_a) * ops.expand_dims(h0, 1)
    for sign in (1.0, -1.0):
        signed = b * sign
        positive = signed > 0
        log_b = ops.where(
            positive, ops.log(ops.where(positive, signed, 1.0)), _LOG_ZERO
        )
        part = ops.exp(log_big_a + _logcumsumexp(log_b - log_big_a))
        h = h + part if sign > 0 else h - part
    return ops.cast(h, dtype)


def _logcumsumexp(x):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.math.cumulative_logsumexp(x, axis=1)
    if backend == "jax":
        import jax

        # `jax.lax.cumlogsumexp` compiled for seconds on a CPU even at 7 steps and
        # ran 20 s forwards at T=1000 (2-core CPU); the associative scan of
        # logaddexp is the same parallel prefix, 0.3 s.
        return jax.lax.associative_scan(jax.numpy.logaddexp, x, axis=1)
    # Other backends: the max-shifted cumsum (exact while values stay in range).
    shift = ops.max(x, axis=1, keepdims=True)
    return ops.log(ops.cumsum(ops.exp(x - shift), axis=1)) + shift


# Loops over time.


def _sequential_scan(a, b, h0, reverse=False, time_major=False):
    """One loop over time (`reverse`: from the last step, h(t) = a(t) h(t+1) + b(t))."""
    if time_major:
        a_t, b_t = a, b
    else:
        a_t, b_t = (ops.transpose(t, (1, 0, 2)) for t in (a, b))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        h = tf.scan(
            lambda h, ab: ab[0] * h + ab[1], (a_t, b_t), initializer=h0, reverse=reverse
        )
    elif backend == "jax":
        import jax

        def body(h, ab):
            h = ab[0] * h + ab[1]
            return h, h

        _, h = jax.lax.scan(body, h0, (a_t, b_t), reverse=reverse)
    else:

        def body(h, ab):
            h = ab[0] * h + ab[1]
            return h, h

        _, h = ops.scan(body, h0, (a_t, b_t), reverse=reverse)
    return h if time_major else ops.transpose(h, (1, 0, 2))


def _chunked_scan(a, b, h0, reverse=False):
    """`linear_scan`'s "chunked" form (see the module docstring)."""
    chunk = _CHUNK
    time = a.shape[1]
    if time is not None and time <= chunk:
        return _unrolled_scan(a, b, h0, reverse)
    batch, units = ops.shape(a)[0], a.shape[2]
    time_t = ops.shape(a)[1]
    padding = (-time_t) % chunk
    if time is None or time % chunk:
        # Padded steps keep the state (a = 1, b = 0), in either direction.
        a = ops.pad(a, ((0, 0), (0, padding), (0, 0)), constant_values=1.0)
        b = ops.pad(b, ((0, 0), (0, padding), (0, 0)))
    chunks = -1 if time is None else (time + padding) // chunk
    a_steps = ops.unstack(ops.reshape(a, (batch, chunks, chunk, units)), axis=2)
    b_steps = ops.unstack(ops.reshape(b, (batch, chunks, chunk, units)), axis=2)
    order = range(chunk - 1, -1, -1) if reverse else range(chunk)
    # Each chunk's product of a and its scan of b from a zero state, all chunks at
    # once: (batch, chunks, units).
    prod, total = None, None
    for j in order:
        if total is None:
            prod, total = a_steps[j], b_steps[j]
        else:
            prod, total = a_steps[j] * prod, a_steps[j] * total + b_steps[j]
    # The state entering each chunk: a scan over chunks, from h0.
    carries = _sequential_scan(prod, total, h0, reverse=reverse)
    if reverse:
        entering = ops.concatenate([carries[:, 1:], ops.expand_dims(h0, 1)], axis=1)
    else:
        entering = ops.concatenate([ops.expand_dims(h0, 1), carries[:, :-1]], axis=1)
    h_steps = [None] * chunk
    h = entering
    for j in order:
        h = a_steps[j] * h + b_steps[j]
        h_steps[j] = h
    h = ops.reshape(ops.stack(h_steps, axis=2), (batch, -1, units))
    if time is None or time % chunk:
        h = h[:, :time_t]
    return h


def _unrolled_scan(a, b, h0, reverse=False):
    """A Python loop over the (few, known) steps."""
    steps = range(a.shape[1] - 1, -1, -1) if reverse else range(a.shape[1])
    h, out = h0, [None] * a.shape[1]
    for t in steps:
        h = a[:, t] * h + b[:, t]
        out[t] = h
    return ops.stack(out, axis=1)


def _tf_scan_with_gradient(scan, time_major=False):
    """`scan(a, b, h0)` with the gradient of the module docstring (TensorFlow)."""
    import tensorflow as tf

    # Time-major tensors are seen here as (1, time, batch, units): the same
    # slices along axis 1 as batch-major ones, on a leading axis of 1.
    def view(t):
        return t[None] if time_major else t

    def unview(t):
        return t[0] if time_major else t

    @tf.custom_gradient
    def scan_with_gradient(a, b, h0):
        h = scan(a, b, h0)

        def grad(dh):
            a_v, h_v = view(a), view(h)
            h0_v = h0[None, None] if time_major else h0[:, None]
            # a(t+1) for step t; the last step's is never used (g starts at 0).
            a_next = tf.concat([a_v[:, 1:], tf.zeros_like(a_v[:, :1])], axis=1)
            g = scan(unview(a_next), dh, tf.zeros_like(h0), reverse=True)
            h_prev = unview(tf.concat([h0_v, h_v[:, :-1]], axis=1))
            g_first = g[0] if time_major else g[:, 0]
            a_first = a[0] if time_major else a[:, 0]
            return g * h_prev, g, a_first * g_first

        return h, grad

    return scan_with_gradient


def _associative_scan(a, b, h0):
    """`jax.lax.associative_scan` of the pairs (a, b): h = A h0 + B."""
    import jax

    def combine(first, second):
        a1, b1 = first
        a2, b2 = second
        return a1 * a2, a2 * b1 + b2

    big_a, big_b = jax.lax.associative_scan(combine, (a, b), axis=1)
    return big_a * h0[:, None] + big_b
