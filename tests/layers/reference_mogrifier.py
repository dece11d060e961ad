"""NumPy float64 reference of the Mogrifier LSTM step (Melis, Kočiský and Blunsom
2020, "Mogrifier LSTM", section 2), with no code shared with
`layers/mogrifier_lstm.py`.

    x⁻¹ = x, h⁰ = h(t-1)
    odd j:  xʲ = 2σ(Qʲ hʲ⁻¹) ⊙ xʲ⁻²      even j:  hʲ = 2σ(Rʲ xʲ⁻¹) ⊙ hʲ⁻²
    then LSTM(x↑, c(t-1), h↑), x↑ / h↑ the highest-indexed x / h.

Row vectors: Qʲ is `w["mogrifier_q{j}"]` (units, features), Rʲ `w["mogrifier_r{j}"]`
(features, units); with `rank`, the products `..._left @ ..._right`. Regularization
hooks as in `numpy_reference.lstm_step`; `h_mask` multiplies h(t-1) before the
mogrifier (and so before U); zoneout mixes with h(t-1) and c(t-1).
"""

from __future__ import annotations

from tests.layers.numpy_reference import lstm_step, sigmoid, zoneout


def matrix(w, name):
    if name in w:
        return w[name]
    return w[f"{name}_left"] @ w[f"{name}_right"]


def mogrify(x, h, w, rounds):
    xs = {-1: x}
    hs = {0: h}
    for j in range(1, rounds + 1):
        if j % 2:
            xs[j] = 2 * sigmoid(hs[j - 1] @ matrix(w, f"mogrifier_q{j}")) * xs[j - 2]
            hs[j] = hs[j - 1]
        else:
            hs[j] = 2 * sigmoid(xs[j - 1] @ matrix(w, f"mogrifier_r{j}")) * hs[j - 2]
            xs[j] = xs[j - 1]
    return xs[max(xs)], hs[max(hs)]


def mogrifier_step(
    x,
    states,
    w,
    rounds=5,
    cell_clip=None,
    h_mask=None,
    g_mask=None,
    zoneout_cell=None,
    zoneout_hidden=None,
):
    h, c = states
    h_in = h if h_mask is None else h * h_mask
    x_up, h_up = mogrify(x, h_in, w, rounds)
    h_new, c_new = lstm_step(x_up, [h_up, c], w, cell_clip=cell_clip, g_mask=g_mask)
    return [zoneout(h, h_new, zoneout_hidden), zoneout(c, c_new, zoneout_cell)]
