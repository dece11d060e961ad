"""`MinGRU` and `MinLSTM` on TensorFlow's sequential scan: gates, scan and their
gradient as one function.

`min_gru.min_rnn_scan` runs the recurrence h(t) = a(t) h(t-1) + b(t) of the
minimal cells (Feng et al. 2024, arXiv 2410.01201) as a sequential scan on a
CPU with TensorFlow. This module is that form's whole sequence after the input
projection, with its own gradient (`tf.custom_gradient`):

    forward:   a, s = cell.gates(z_gates)        h̃ = cell.candidate(z_h)
               b = s h̃ (s = 1 - a)               h = scan of h(t) = a h(t-1) + b
    backward:  g(t) = dL/dh(t) + a(t+1) g(t+1)   (one reverse loop)
               dL/da(t) = g(t) (h(t-1) - h̃(t))  (through a and s = 1 - a)
               dL/dz_gates = cell.gates_gradient(...)   (closed form)
               dL/dz_h = g(t) s(t) act'(z_h)     dL/dh0 = a(0) g(0)

Why a function of its own, instead of autodiff of `coefficients` around
`linear_scan`: on a 2-core CPU the matmuls of a `MinLSTM(256)` training step at
T=1000 take ~75 ms and its element-wise work took ~230 ms, most of it in the
autodiff of the stable gate formula (`MinLSTMCell.gates`) and in copies XLA made
between the pieces (the projection split and its gradient concatenated, a and h
shifted by one step, the last step's gradient padded to the whole sequence). Here
the gate gradients are closed forms (σ(-k) recomputed, not stored), the
projection is one matmul per gate block (no split, no concatenation), the
reverse loop reads a(t) where it stands (it carries a(t) g(t)), and with
`return_sequences=False` only h(T-1) leaves the function, so its gradient is
one step wide. Measured in `lstmsuite bench layers` (docs/performance.md).

Masked steps and zoneout's keep mask hold h (a = 1, b = 0 there, and no
gradient reaches their gates); zoneout at inference uses its expectation,
a' = r + (1 - r) a, b' = (1 - r) b, so the gradient of a and b is g (1 - r).
"""

from __future__ import annotations

from keras import ops


def project_blocks(cell, inputs):
    """W x + b of `inputs` (time, batch, features), one matmul per gate block."""
    blocks = cell.gate_blocks
    kernels = ops.split(cell.kernel, blocks, axis=1)
    biases = ops.split(cell.bias, blocks) if cell.bias is not None else [None] * blocks
    z = []
    for kernel, bias in zip(kernels, biases):
        block = ops.matmul(inputs, kernel)
        z.append(block if bias is None else block + bias)
    return z


def fused_scan(cell, z, h0, held, rate, candidate_mask, last_only):
    """Every h(t) (time-major), or h(T-1) alone with `last_only`, from the gate
    blocks `z` (a list, float32); `held`: where h is held (bool) or None; `rate`:
    zoneout's rate at inference, else 0."""
    import tensorflow as tf

    gate_count = len(z) - 1

    @tf.custom_gradient
    def run(*args):
        z_gates, z_h, h0 = list(args[:gate_count]), args[gate_count], args[-1]
        a, s = cell.gates(z_gates)
        h_tilde = cell.candidate(z_h, candidate_mask)
        a_step, b_step = a, s * h_tilde
        if rate:
            a_step, b_step = rate + (1.0 - rate) * a_step, (1.0 - rate) * b_step
        if held is not None:
            a_step, b_step = ops.where(held, 1.0, a_step), ops.where(held, 0.0, b_step)
        h = tf.scan(lambda h, ab: ab[0] * h + ab[1], (a_step, b_step), initializer=h0)

        def grad(dh):
            g, dh0 = _reverse_scan(a_step, dh, last_only)
            if rate:
                g = g * (1.0 - rate)
            if held is not None:
                g = ops.where(held, 0.0, g)
            h_prev = tf.concat([h0[None], h[:-1]], axis=0)
            d_gates = cell.gates_gradient(z_gates, a, s, g * (h_prev - h_tilde))
            if d_gates is None:
                with tf.GradientTape() as tape:
                    tape.watch(z_gates)
                    a_again, s_again = cell.gates(z_gates)
                d_gates = tape.gradient(
                    [a_again, s_again],
                    z_gates,
                    output_gradients=[g * h_prev, g * h_tilde],
                )
            with tf.GradientTape() as tape:
                tape.watch(z_h)
                h_tilde_again = cell.candidate(z_h, candidate_mask)
            d_h = tape.gradient(h_tilde_again, z_h, output_gradients=g * s)
            return (*d_gates, d_h, dh0)

        return (h[-1] if last_only else h), grad

    return run(*z, h0)


def _reverse_scan(a, dh, last_only):
    """g(t) = dh(t) + a(t+1) g(t+1) for every t (time-major), and a(0) g(0).

    The loop carries a(t) g(t), so that step t reads a(t) in place (a shifted
    copy of a cost a pass over it). With `last_only`, `dh` is the last step's
    gradient alone, the only one not zero.
    """
    import tensorflow as tf

    time = tf.shape(a)[0]
    steps = tf.TensorArray(a.dtype, size=time, element_shape=a.shape[1:])

    def body(t, carry, steps):
        g = carry if last_only else dh[t] + carry
        return t - 1, a[t] * g, steps.write(t, g)

    carry = dh if last_only else tf.zeros_like(dh[0])
    _, carry, steps = tf.while_loop(
        lambda t, *_: t >= 0, body, (time - 1, carry, steps)
    )
    return steps.stack(), carry
