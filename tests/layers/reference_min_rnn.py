"""NumPy float64 references of `MinGRU` and `MinLSTM`, from the paper's equations.

Feng et al. 2024, "Were RNNs All We Needed?" (arXiv 2410.01201):

    minGRU:  z = σ(W_z x + b_z),  h̃ = act(W_h x + b_h),  h = (1 - z) h(t-1) + z h̃
    minLSTM: f = σ(W_f x + b_f),  i = σ(W_i x + b_i),    h̃ = act(W_h x + b_h),
             f' = f / (f + i),    i' = i / (f + i),      h = f' h(t-1) + i' h̃

Written with plain NumPy, step by step, sharing no code with the layers. Kernel
blocks: minGRU (z, h), minLSTM (i, f, h). `g_mask` multiplies h̃ (Semeniuta
recurrent dropout); `zoneout_hidden` is a rate (the inference expectation) or a
0/1 training mask (1 = keep h(t-1)). A masked step (`step_mask` False) keeps the
state.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def paper_g(x):
    """The paper's candidate activation: x + 0.5 for x >= 0, σ(x) below."""
    return np.where(x >= 0, x + 0.5, sigmoid(x))


ACTIVATIONS = {"tanh": np.tanh, "min_rnn_g": paper_g, "linear": lambda x: x}


def _projection(x, w):
    z = x @ w["kernel"]
    return z + w["bias"] if "bias" in w else z


def _zoneout(previous, new, keep):
    if keep is None:
        return new
    return keep * previous + (1.0 - keep) * new


def min_gru_step(x, h, w, activation="tanh", g_mask=None, zoneout_hidden=None):
    z_z, z_h = np.split(_projection(x, w), 2, axis=-1)
    z = sigmoid(z_z)
    h_tilde = ACTIVATIONS[activation](z_h)
    if g_mask is not None:
        h_tilde = h_tilde * g_mask
    return _zoneout(h, (1.0 - z) * h + z * h_tilde, zoneout_hidden)


def min_lstm_step(x, h, w, activation="tanh", g_mask=None, zoneout_hidden=None):
    z_i, z_f, z_h = np.split(_projection(x, w), 3, axis=-1)
    i, f = sigmoid(z_i), sigmoid(z_f)
    f_norm, i_norm = f / (f + i), i / (f + i)
    h_tilde = ACTIVATIONS[activation](z_h)
    if g_mask is not None:
        h_tilde = h_tilde * g_mask
    return _zoneout(h, f_norm * h + i_norm * h_tilde, zoneout_hidden)


def run(step, x, h0, w, go_backwards=False, step_mask=None, zoneout_masks=None, **kw):
    """Runs `step` over x (batch, time, features) from h0.

    Returns `(states, final_state)`: h after every step in processing order
    (batch, time, units) and the last one. `zoneout_masks`: (batch, time, units)
    training masks of zoneout_hidden, indexed by the input's time step.
    """
    x = np.asarray(x, np.float64)
    h = np.asarray(h0, np.float64)
    steps = range(x.shape[1])
    if go_backwards:
        steps = reversed(steps)
    states = []
    for t in steps:
        step_kw = dict(kw)
        if zoneout_masks is not None:
            step_kw["zoneout_hidden"] = zoneout_masks[:, t]
        new = step(x[:, t], h, w, **step_kw)
        if step_mask is not None:
            new = np.where(step_mask[:, t, None], new, h)
        h = new
        states.append(h)
    return np.stack(states, axis=1), h
