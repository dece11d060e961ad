"""NumPy (float64) references of the mLSTM step, written from the paper's equations.

Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", section 2.3 (the
unstabilized recurrence) and appendix (the stabilized one), per head, with
every gate from x(t) and weights `kernel`, `bias` in blocks [q, k, v, o, ĩ, f̃]:

    q = W_q x + b_q,  k = (W_k x + b_k) / √d,  v = W_v x + b_v,  o = σ(W_o x + b_o)
    i = exp(ĩ),  f = σ(f̃) or exp(f̃)
    C = f C + i v kᵀ,  n = f n + i k,  h = o * C q / max(|nᵀ q|, 1)

Stabilized: m = max(log f + m, ĩ), i' = exp(ĩ - m), f' = exp(log f + m_prev - m),
C̃ = f' C̃ + i' v kᵀ, ñ = f' ñ + i' k, h = o * C̃ q / max(|ñᵀ q|, exp(-m)).
No code is shared with `lstmsuite.layers.mlstm`; per-head loops keep it plain.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _gates(x, w, num_heads, v_mask=None):
    """Per sample: q, k, v as (heads, d) arrays, o (units), ĩ, f̃ (heads)."""
    z = x @ w["kernel"] + w.get("bias", 0.0)
    units = (z.shape[-1] - 2 * num_heads) // 4
    d = units // num_heads
    q, k, v, o = (z[..., j * units : (j + 1) * units] for j in range(4))
    i_pre = z[..., 4 * units : 4 * units + num_heads]
    f_pre = z[..., 4 * units + num_heads :]
    if v_mask is not None:
        v = v * v_mask
    k = k / np.sqrt(d)
    shape = (*q.shape[:-1], num_heads, d)
    return (
        q.reshape(shape),
        k.reshape(shape),
        v.reshape(shape),
        _sigmoid(o),
        i_pre,
        f_pre,
    )


def step_unstabilized(x, states, w, num_heads, forget_gate="sigmoid", v_mask=None):
    """One step for a batch x (batch, features); states `[C, n]`, C of shape
    (batch, heads, d, d) [value, key], n (batch, heads, d). Returns
    `(h, [C, n])`."""
    c, n = (np.array(s, dtype=np.float64) for s in states)
    q, k, v, o, i_pre, f_pre = _gates(x, w, num_heads, v_mask)
    f = _sigmoid(f_pre) if forget_gate == "sigmoid" else np.exp(f_pre)
    i = np.exp(i_pre)
    batch, heads, d = q.shape
    h = np.zeros((batch, heads, d))
    for b in range(batch):
        for j in range(heads):
            c[b, j] = f[b, j] * c[b, j] + i[b, j] * np.outer(v[b, j], k[b, j])
            n[b, j] = f[b, j] * n[b, j] + i[b, j] * k[b, j]
            denominator = max(abs(n[b, j] @ q[b, j]), 1.0)
            h[b, j] = c[b, j] @ q[b, j] / denominator
    return o * h.reshape(batch, -1), [c, n]


def step_stabilized(x, states, w, num_heads, forget_gate="sigmoid", v_mask=None):
    """One stabilized step; states `[C̃, ñ, m]` (m: (batch, heads)). Returns
    `(h, [C̃, ñ, m])`."""
    c, n, m_prev = (np.array(s, dtype=np.float64) for s in states)
    q, k, v, o, i_pre, f_pre = _gates(x, w, num_heads, v_mask)
    log_f = _log_sigmoid(f_pre) if forget_gate == "sigmoid" else f_pre
    batch, heads, d = q.shape
    h = np.zeros((batch, heads, d))
    m = np.zeros_like(m_prev)
    for b in range(batch):
        for j in range(heads):
            m[b, j] = max(log_f[b, j] + m_prev[b, j], i_pre[b, j])
            i = np.exp(i_pre[b, j] - m[b, j])
            f = np.exp(log_f[b, j] + m_prev[b, j] - m[b, j])
            c[b, j] = f * c[b, j] + i * np.outer(v[b, j], k[b, j])
            n[b, j] = f * n[b, j] + i * k[b, j]
            denominator = max(abs(n[b, j] @ q[b, j]), np.exp(-m[b, j]))
            h[b, j] = c[b, j] @ q[b, j] / denominator
    return o * h.reshape(batch, -1), [c, n, m]


def run(step, xs, states, mask=None, first_output=None, **kwargs):
    """Loops `step` over xs (batch, time, features). A masked step (mask False)
    keeps the states and outputs the previous output (`first_output`, default
    zeros, before the first unmasked step), as Keras does. Returns
    `(outputs, final states)`."""
    xs = np.asarray(xs, dtype=np.float64)
    batch, time, _ = xs.shape
    outputs, previous = [], first_output
    for t in range(time):
        h, new_states = step(xs[:, t], states, **kwargs)
        if previous is None:
            previous = np.zeros_like(h)
        if mask is not None:
            keep = np.asarray(mask[:, t], dtype=bool)
            h = np.where(keep[:, None], h, previous)
            new_states = [
                np.where(keep.reshape((-1,) + (1,) * (s.ndim - 1)), s, old)
                for s, old in zip(new_states, states)
            ]
        outputs.append(h)
        previous, states = h, new_states
    return np.stack(outputs, axis=1), states
