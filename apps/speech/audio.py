"""Reading audio files: any sample rate, mono or stereo -> mono float32 at one rate.

    waveform = read_audio("0_george_0.wav", rate=8000)    # (samples,) in [-1, 1]

WAV (PCM 8/16/24/32-bit or float) is read with SciPy; FLAC and OGG need the
`soundfile` package (libsndfile), which is used when it is installed. Several
channels are mixed down by their mean; another rate is resampled with a polyphase
filter (`scipy.signal.resample_poly`, the rate ratio reduced by its gcd), which
is exact for the integer ratios of common rates (16 kHz -> 8 kHz: 1/2).

A file that is missing, empty, silent-length or not audio raises `AudioError`,
whose message says what is wrong; the data sources skip such files with a
warning and count them, `predict` reports them.
"""

from __future__ import annotations

import math
import struct
import warnings
from pathlib import Path

import numpy as np

#: Extensions the readers take (FLAC and OGG only with `soundfile`).
EXTENSIONS = (".wav", ".flac", ".ogg")


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file."""


def read_audio(path, rate: int) -> np.ndarray:
    """The file's samples as mono float32 in [-1, 1] at `rate` Hz."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    suffix = path.suffix.lower()
    if suffix == ".wav":
        samples, file_rate = _read_wav(path)
    elif suffix in (".flac", ".ogg"):
        samples, file_rate = _read_soundfile(path)
    else:
        raise AudioError(
            f"{path}: unsupported audio format {suffix!r} (expected "
            f"{', '.join(EXTENSIONS)})"
        )
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise AudioError(f"{path}: no samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{path}: samples that are NaN or infinite")
    return resample(samples.astype(np.float32), file_rate, rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`samples` at `rate` Hz -> at `target` Hz (float32)."""
    if int(rate) == int(target):
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    out = resample_poly(samples, int(target) // g, int(rate) // g)
    return out.astype(np.float32)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    from scipy.io import wavfile

    try:
        with warnings.catch_warnings():
            # Unknown chunks (LIST, cue) are skipped with a warning; they are harmless.
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError, struct.error) as e:
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        raise AudioError(f"{path}: not a readable WAV file ({reason})") from None
    return _to_float(data), int(rate)


def _to_float(data: np.ndarray) -> np.ndarray:
    """Integer PCM -> [-1, 1]; 8-bit WAV is unsigned around 128."""
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    return data.astype(np.float32)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError:
        raise AudioError(
            f"{path}: reading {path.suffix} files needs the soundfile package "
            "(`pip install soundfile`); WAV files need nothing more"
        ) from None
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except Exception as e:  # noqa: BLE001 -- libsndfile's errors have no common type
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        raise AudioError(f"{path}: not readable audio ({reason})") from None
    return np.asarray(data), int(rate)
