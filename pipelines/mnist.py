"""`mnist.npz` (the Keras layout: x_train, y_train, x_test, y_test), read safely.

Two apps read MNIST: handwriting draws digit lines from its images, the long-range
lab feeds them pixel by pixel. Both take the file from `data.path` (for example
`../shared/data/mnist/mnist.npz`); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIDE = 28  # MNIST images are 28x28


def read_mnist(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{"train": (x_train, y_train), "test": (x_test, y_test)}` from mnist.npz,
    images uint8 (N, 28, 28) and labels int64 (N,).

    Read with `allow_pickle=False`: an .npz can hold pickled objects, and this one
    must not run any code. A missing array, a wrong shape or labels that do not
    match the images are ValueErrors naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected mnist.npz)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise ValueError(f"{path}: not an MNIST archive, missing array {e}") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read as a NumPy .npz archive ({e})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE):
            raise ValueError(
                f"{path}: x_{split} has shape {x.shape}, expected (N, 28, 28)"
            )
        if y.shape != (len(x),):
            raise ValueError(
                f"{path}: y_{split} has shape {y.shape}, expected ({len(x)},): one "
                "label per image"
            )
    return {
        split: (
            arrays[f"x_{split}"].astype(np.uint8),
            arrays[f"y_{split}"].astype(np.int64),
        )
        for split in ("train", "test")
    }
