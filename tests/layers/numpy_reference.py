"""NumPy references of the cells in `layers/`, written from the papers' equations.

Each `*_step` function computes one time step from the equations quoted in the
docstring of the matching module of `layers/`, with plain NumPy and no code shared
with the layers. `run` loops a step function over a sequence.

Regularization hooks, all optional:

- `h_mask`: variational recurrent dropout, multiplies h(t-1) before `U`.
- `g_mask`: Semeniuta recurrent dropout, multiplies the candidate g(t).
- `zoneout_cell`, `zoneout_hidden`: a float is the inference-time expectation
  `p * previous + (1 - p) * new`; an array is a 0/1 training mask (1 = keep the
  previous value). As in Krueger et al. 2017, h(t) is computed from the new
  (not zoned-out) c(t).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def layer_norm(x, gamma, beta, epsilon=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def zoneout(previous, new, keep):
    if keep is None:
        return new
    return keep * previous + (1.0 - keep) * new


def _clip(x, limit):
    return x if limit is None else np.clip(x, -limit, limit)


def _mask(x, mask):
    return x if mask is None else x * mask


def lstm_step(
    x,
    states,
    w,
    cell_clip=None,
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    """LSTM with forget gate; `w` has `kernel`, `recurrent_kernel`, `bias`."""
    h, c = states
    z = x @ w["kernel"] + _mask(h, h_mask) @ w["recurrent_kernel"] + w["bias"]
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g = _mask(np.tanh(z_g), g_mask)
    c_new = _clip(f * c + i * g, cell_clip)
    h_new = o * np.tanh(c_new)
    return [zoneout(h, h_new, zoneout_hidden), zoneout(c, c_new, zoneout_cell)]


def peephole_step(
    x,
    states,
    w,
    cell_clip=None,
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    """Gers and Schmidhuber 2000: i, f see c(t-1); o sees c(t)."""
    h, c = states
    z = x @ w["kernel"] + _mask(h, h_mask) @ w["recurrent_kernel"] + w["bias"]
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
    i = sigmoid(z_i + w["input_peephole_weights"] * c)
    f = sigmoid(z_f + w["forget_peephole_weights"] * c)
    g = _mask(np.tanh(z_g), g_mask)
    c_new = _clip(f * c + i * g, cell_clip)
    o = sigmoid(z_o + w["output_peephole_weights"] * c_new)
    h_new = o * np.tanh(c_new)
    return [zoneout(h, h_new, zoneout_hidden), zoneout(c, c_new, zoneout_cell)]


def cifg_step(
    x,
    states,
    w,
    cell_clip=None,
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    """Coupled input-forget gate (Greff et al. 2017): i = 1 - f; blocks (f, g, o)."""
    h, c = states
    z = x @ w["kernel"] + _mask(h, h_mask) @ w["recurrent_kernel"] + w["bias"]
    z_f, z_g, z_o = np.split(z, 3, axis=-1)
    f, o = sigmoid(z_f), sigmoid(z_o)
    g = _mask(np.tanh(z_g), g_mask)
    c_new = _clip(f * c + (1.0 - f) * g, cell_clip)
    h_new = o * np.tanh(c_new)
    return [zoneout(h, h_new, zoneout_hidden), zoneout(c, c_new, zoneout_cell)]


def lstmp_step(
    x,
    states,
    w,
    cell_clip=None,
    proj_clip=None,
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    """Sak et al. 2014: h(t) = W_proj (o * tanh(c(t))), optionally clipped."""
    h, c = states
    z = x @ w["kernel"] + _mask(h, h_mask) @ w["recurrent_kernel"] + w["bias"]
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g = _mask(np.tanh(z_g), g_mask)
    c_new = _clip(f * c + i * g, cell_clip)
    h_new = _clip((o * np.tanh(c_new)) @ w["projection_kernel"], proj_clip)
    return [zoneout(h, h_new, zoneout_hidden), zoneout(c, c_new, zoneout_cell)]


def layer_norm_step(
    x,
    states,
    w,
    cell_clip=None,
    epsilon=1e-5,
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    """Ba et al. 2016, eqs. 20-22: LN on W x, on U h and on c(t) before tanh."""
    h, c = states
    z = (
        layer_norm(
            x @ w["kernel"], w["input_norm_gamma"], w["input_norm_beta"], epsilon
        )
        + layer_norm(
            _mask(h, h_mask) @ w["recurrent_kernel"],
            w["recurrent_norm_gamma"],
            w["recurrent_norm_beta"],
            epsilon,
        )
        + w["bias"]
    )
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g = _mask(np.tanh(z_g), g_mask)
    c_new = _clip(f * c + i * g, cell_clip)
    normed = layer_norm(c_new, w["cell_norm_gamma"], w["cell_norm_beta"], epsilon)
    h_new = o * np.tanh(normed)
    return [zoneout(h, h_new, zoneout_hidden), zoneout(c, c_new, zoneout_cell)]


def gru_step(
    x,
    states,
    w,
    reset_after=True,
    h_mask=None,
    g_mask=None,
    zoneout_hidden=None,
):
    """Cho et al. 2014; gate order (z, r, h) as keras.layers.GRU."""
    (h,) = states
    kernel, recurrent = w["kernel"], w["recurrent_kernel"]
    h_in = _mask(h, h_mask)
    if reset_after:
        b_in, b_rec = w["bias"][0], w["bias"][1]
        x_z, x_r, x_h = np.split(x @ kernel + b_in, 3, axis=-1)
        r_z, r_r, r_h = np.split(h_in @ recurrent + b_rec, 3, axis=-1)
        z = sigmoid(x_z + r_z)
        r = sigmoid(x_r + r_r)
        g = np.tanh(x_h + r * r_h)
    else:
        x_z, x_r, x_h = np.split(x @ kernel + w["bias"], 3, axis=-1)
        u_z, u_r, u_h = np.split(recurrent, 3, axis=-1)
        z = sigmoid(x_z + h_in @ u_z)
        r = sigmoid(x_r + h_in @ u_r)
        g = np.tanh(x_h + (r * h_in) @ u_h)
    g = _mask(g, g_mask)
    h_new = z * h + (1.0 - z) * g
    return [zoneout(h, h_new, zoneout_hidden)]


STEPS = {
    "lstm": lstm_step,
    "peephole": peephole_step,
    "cifg": cifg_step,
    "lstmp": lstmp_step,
    "layernorm": layer_norm_step,
    "gru": gru_step,
}


def run(
    step,
    x,
    states,
    w,
    go_backwards=False,
    x_mask=None,
    zoneout_masks=None,
    **kwargs,
):
    """Runs `step` over x (batch, time, features).

    `x_mask` multiplies every x(t) (input dropout, one mask per sequence).
    `zoneout_masks` maps "zoneout_cell"/"zoneout_hidden" to (batch, time, width)
    training masks; step t of the input uses slice t. Returns
    `(outputs, final_states)`, outputs (batch, time, width) in processing order.
    """
    x = np.asarray(x, np.float64)
    states = [np.asarray(s, np.float64) for s in states]
    steps = range(x.shape[1])
    if go_backwards:
        steps = reversed(steps)
    outputs = []
    for t in steps:
        step_kwargs = dict(kwargs)
        for name, masks in (zoneout_masks or {}).items():
            step_kwargs[name] = masks[:, t]
        states = step(_mask(x[:, t], x_mask), states, w, **step_kwargs)
        outputs.append(states[0])
    return np.stack(outputs, axis=1), states
