"""Small audio fixtures the speech tests write themselves, in the formats the
sources read: FSDD's folder layout and file names, a `folder` with labels.tsv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import wavfile


def tone(digit: int, rate: int = 8000, seconds: float = 0.25, seed: int = 0):
    """A short clip whose pitch depends on the digit (float32 in [-0.5, 0.5])."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    clip = 0.4 * np.sin(2 * np.pi * (300 + 150 * digit) * t) * np.hanning(len(t))
    return (clip + rng.normal(0, 0.01, len(t))).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> Path:
    """16-bit PCM (what FSDD ships); a 2-D array writes several channels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, (np.clip(samples, -1, 1) * 32767).astype(np.int16))
    return path


def make_fsdd(root: Path, speakers=("alice", "bob", "carol", "dave"), per=12) -> Path:
    """An FSDD-shaped folder: recordings/DIGIT_SPEAKER_INDEX.wav."""
    for s, speaker in enumerate(speakers):
        for digit in range(10):
            for index in range(per):
                clip = tone(digit, seed=1000 * s + 10 * digit + index)
                write_wav(root / "recordings" / f"{digit}_{speaker}_{index}.wav", clip)
    return root
