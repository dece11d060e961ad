"""NumPy float64 references of the sLSTM step (Beck et al. 2024, xLSTM, section 2.2).

Written from the paper's equations, with no code shared with
`layers/slstm.py`. Two forms:

- `slstm_step`: the stabilized recurrence, states [h, c, n, m]:
      m' = max(log f + m, ĩ), i' = exp(ĩ - m'), f' = exp(log f + m - m'),
      c' = f' c + i' z, n' = f' n + i', h' = o c' / n'
  where a state with n = 0 (empty) counts as m = -inf (m' = ĩ, f' = 0).
- `slstm_step_unstabilized`: the plain exponential gating, states [h, c, n]:
      i = exp(ĩ), c' = f c + i z, n' = f n + i, h' = o c' / n'
  (overflows for large pre-activations; there the stabilized one is the truth).

`weights` has `kernel` (F, 4U), `recurrent_kernel` (heads, U/heads, 4U/heads, the
diagonal blocks, gate-major within a head) and `bias` (4U). Regularization hooks as
in `numpy_reference`: `h_mask`, `g_mask` (on z = tanh(z̃)), `zoneout_cell` (applies
to c, n and m together: a 0/1 array in training, the rate at inference, where the
expectation is taken over the unstabilized states), `zoneout_hidden`.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def dense_recurrent(blocks):
    """The (U, 4U) block-diagonal matrix of the per-head blocks, built entry-wise."""
    heads, head_dim, width = blocks.shape
    units = heads * head_dim
    dense = np.zeros((units, 4 * units))
    for k in range(heads):
        rows = slice(k * head_dim, (k + 1) * head_dim)
        for g in range(4):
            columns = slice(g * units + k * head_dim, g * units + (k + 1) * head_dim)
            dense[rows, columns] = blocks[k][:, g * head_dim : (g + 1) * head_dim]
    return dense


def _pre_activations(x, h, w, h_mask):
    h_in = h if h_mask is None else h * h_mask
    z = x @ w["kernel"] + h_in @ dense_recurrent(w["recurrent_kernel"])
    if "bias" in w:
        z = z + w["bias"]
    return np.split(z, 4, axis=-1)


def _candidate(z_z, g_mask):
    z = np.tanh(z_z)
    return z if g_mask is None else z * g_mask


def _log_forget(z_f, forget_gate):
    return log_sigmoid(z_f) if forget_gate == "sigmoid" else z_f


def _zoneout(previous, new, keep):
    if keep is None:
        return new
    return keep * previous + (1.0 - keep) * new


def slstm_step(
    x,
    states,
    w,
    forget_gate="sigmoid",
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    h, c, n, m = states
    z_i, z_f, z_z, z_o = _pre_activations(x, h, w, h_mask)
    m_prev = np.where(n == 0.0, -np.inf, m)
    with np.errstate(invalid="ignore"):
        log_f_m = _log_forget(z_f, forget_gate) + m_prev
    m_new = np.maximum(log_f_m, z_i)
    i = np.exp(z_i - m_new)
    f = np.exp(log_f_m - m_new)
    c_new = f * c + i * _candidate(z_z, g_mask)
    n_new = f * n + i
    h_new = sigmoid(z_o) * c_new / n_new
    if isinstance(zoneout_cell, float):
        m_mix = np.maximum(m_prev, m_new)
        old = zoneout_cell * np.exp(m_prev - m_mix)
        new = (1.0 - zoneout_cell) * np.exp(m_new - m_mix)
        c_new, n_new, m_new = old * c + new * c_new, old * n + new * n_new, m_mix
    elif zoneout_cell is not None:
        c_new = _zoneout(c, c_new, zoneout_cell)
        n_new = _zoneout(n, n_new, zoneout_cell)
        m_new = _zoneout(m, m_new, zoneout_cell)
    return [_zoneout(h, h_new, zoneout_hidden), c_new, n_new, m_new]


def slstm_step_unstabilized(
    x,
    states,
    w,
    forget_gate="sigmoid",
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    """States [h, c, n]: the true (unscaled) cell and normalizer states."""
    h, c, n = states
    z_i, z_f, z_z, z_o = _pre_activations(x, h, w, h_mask)
    i = np.exp(z_i)
    f = sigmoid(z_f) if forget_gate == "sigmoid" else np.exp(z_f)
    c_new = f * c + i * _candidate(z_z, g_mask)
    n_new = f * n + i
    h_new = sigmoid(z_o) * c_new / n_new
    return [
        _zoneout(h, h_new, zoneout_hidden),
        _zoneout(c, c_new, zoneout_cell),
        _zoneout(n, n_new, zoneout_cell),
    ]
