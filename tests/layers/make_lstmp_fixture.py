"""Makes `fixtures/lstmp_torch.npz`: golden values of `torch.nn.LSTM(proj_size=...)`.

Run with a Python that has torch (the tests themselves do not need it):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy
    /tmp/torchvenv/bin/python tests/layers/make_lstmp_fixture.py

The fixture holds torch's weights (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`,
`weight_hr`), the inputs `x`, the initial states `h0`, `c0` and torch's results:
`outputs` (batch, time, proj_size), `h_n` (batch, proj_size), `c_n` (batch,
hidden_size), each for a zero initial state (`*_zero`) and for (h0, c0).
"""

from pathlib import Path

import numpy as np
import torch

BATCH, TIME, FEATURES, UNITS, PROJ = 3, 6, 4, 5, 2


def main():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(
        input_size=FEATURES, hidden_size=UNITS, proj_size=PROJ, batch_first=True
    ).double()
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.normal_(0.0, 0.5)
    x = torch.randn(BATCH, TIME, FEATURES, dtype=torch.float64)
    h0 = torch.randn(1, BATCH, PROJ, dtype=torch.float64)
    c0 = torch.randn(1, BATCH, UNITS, dtype=torch.float64)
    with torch.no_grad():
        outputs_zero, (h_zero, c_zero) = lstm(x)
        outputs, (h_n, c_n) = lstm(x, (h0, c0))
    arrays = {
        "weight_ih": lstm.weight_ih_l0,
        "weight_hh": lstm.weight_hh_l0,
        "bias_ih": lstm.bias_ih_l0,
        "bias_hh": lstm.bias_hh_l0,
        "weight_hr": lstm.weight_hr_l0,
        "x": x,
        "h0": h0[0],
        "c0": c0[0],
        "outputs_zero": outputs_zero,
        "h_n_zero": h_zero[0],
        "c_n_zero": c_zero[0],
        "outputs": outputs,
        "h_n": h_n[0],
        "c_n": c_n[0],
    }
    path = Path(__file__).parent / "fixtures" / "lstmp_torch.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez(path, **{k: v.detach().numpy() for k, v in arrays.items()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
