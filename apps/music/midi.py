"""Piano rolls <-> notes, MIDI files and PNG pictures for the music application.

Every piano roll in `apps/music` has the layout of the polyphonic music benchmarks
(`../shared/data/README.md`): a float32 array of shape (T, 88) with values in {0, 1},
one row per quarter note, column `k` holding MIDI pitch `21 + k` (A0 .. C8).

Usage::

    from lstmsuite.apps.music.midi import midi_to_roll, plot_piano_roll, write_midi

    write_midi(roll, "out.mid", tempo_bpm=100)   # consecutive frames -> one held note
    plot_piano_roll(roll, "out.png", title="sample")
    roll = midi_to_roll("out.mid")               # back on the quarter-note grid

`notes_to_roll` and `roll_to_notes` are the vectorized conversions that the data
sources (`apps/music/data.py`) and `write_midi` share, so a note means the same thing
on the way in and on the way out: frame `k` holds the notes sounding at quarter note
`k` (the grid is sampled at each beat, as in the JSB Chorales benchmark).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lstmsuite.pipelines.contract import atomic_file

#: MIDI pitch of column 0 and the number of columns of a piano roll.
LOWEST_PITCH = 21
NUM_KEYS = 88
HIGHEST_PITCH = LOWEST_PITCH + NUM_KEYS - 1  # 108

_GRID_TOLERANCE = 1e-6


def notes_to_roll(
    starts: np.ndarray,
    ends: np.ndarray,
    pitches: np.ndarray,
    num_frames: int | None = None,
) -> np.ndarray:
    """Builds a (T, 88) roll from notes given in frame units, sampling at frame starts.

    A note sounds in frame `k` when it is sounding at time `k` (start <= k < end),
    the convention of the JSB Chorales benchmark: a passing eighth note between two
    beats does not add a fifth voice to a four-part frame, so rolls built here have
    the same statistics as the benchmark files (about 4 notes per chorale frame).

    Args:
        starts, ends: note boundaries in frames (floats allowed); a note that spans
            no frame start (a grace note, an off-beat eighth) is not in the roll.
        pitches: MIDI pitches; the caller filters them to 21..108 first.
        num_frames: length of the roll; by default just long enough for the last note.

    Returns:
        float32 array of shape (num_frames, 88) with values in {0, 1}.
    """
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    pitches = np.asarray(pitches, dtype=np.int64)
    # Times converted from seconds land a hair off the grid lines (3.9999999 for a
    # note on beat 4); the tolerance puts them back on the line they mean.
    first = np.ceil(starts - _GRID_TOLERANCE).astype(np.int64)
    stop = np.ceil(ends - _GRID_TOLERANCE).astype(np.int64)
    keep = stop > first
    first, stop, cols = first[keep], stop[keep], pitches[keep] - LOWEST_PITCH
    if num_frames is None:
        num_frames = int(stop.max()) if stop.size else 0
    first = np.clip(first, 0, num_frames)
    stop = np.clip(stop, 0, num_frames)
    # A difference array marks each note with +1 at its first frame and -1 after its
    # last; the running sum then counts sounding notes per cell with no Python loop,
    # and overlapping notes of one pitch (unisons of two voices) merge naturally.
    diff = np.zeros((num_frames + 1, NUM_KEYS), dtype=np.int32)
    np.add.at(diff, (first, cols), 1)
    np.add.at(diff, (stop, cols), -1)
    return (np.cumsum(diff[:-1], axis=0) > 0).astype(np.float32)


def roll_to_notes(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits a roll into held notes: runs of active frames of one pitch.

    Returns:
        `(starts, ends, pitches)`: int arrays, frames [start, end) and MIDI pitches,
        sorted by pitch then start.
    """
    active = check_roll(roll) > 0.5
    # Pad one silent frame on each side so every run has a rising and a falling edge.
    padded = np.zeros((active.shape[0] + 2, NUM_KEYS), dtype=np.int8)
    padded[1:-1] = active
    edges = np.diff(padded, axis=0)
    # Transposing makes np.nonzero walk pitch by pitch, so the k-th onset and the
    # k-th offset found belong to the same note.
    on_pitch, starts = np.nonzero(edges.T == 1)
    _, ends = np.nonzero(edges.T == -1)
    return starts, ends, on_pitch + LOWEST_PITCH


def check_roll(roll: np.ndarray) -> np.ndarray:
    """Returns `roll` as an array after checking it is (T, 88); raises ValueError."""
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != NUM_KEYS:
        raise ValueError(
            f"A piano roll must have shape (T, {NUM_KEYS}); got {roll.shape}."
        )
    return roll


def write_midi(
    roll: np.ndarray,
    path: str | os.PathLike,
    tempo_bpm: float = 100,
    velocity: int = 80,
    program: int = 0,
) -> Path:
    """Writes a piano roll as a one-track MIDI file.

    Each frame lasts one quarter note at `tempo_bpm`; consecutive active frames of
    one pitch become one held note (so a repeated chord and a held chord sound the
    same, as in the benchmark rolls, which do not mark onsets). Values > 0.5 are on.

    Args:
        roll: (T, 88) array, column 0 = MIDI 21.
        path: the `.mid` file to write; parent folders are created.
        tempo_bpm: quarter notes per minute.
        velocity: MIDI velocity of every note (1..127).
        program: General MIDI program number (0 = acoustic grand piano).

    Returns:
        The path written.
    """
    import pretty_midi

    if not 0 < tempo_bpm:
        raise ValueError(f"tempo_bpm must be positive; got {tempo_bpm}.")
    starts, ends, pitches = roll_to_notes(roll)
    seconds_per_frame = 60.0 / float(tempo_bpm)
    # The initial tempo makes the file's own beat grid match the frames, so a
    # sequencer (and midi_to_roll) sees one frame per quarter note.
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo_bpm))
    instrument = pretty_midi.Instrument(program=int(program))
    instrument.notes = [
        pretty_midi.Note(
            velocity=int(velocity),
            pitch=int(p),
            start=float(s) * seconds_per_frame,
            end=float(e) * seconds_per_frame,
        )
        for s, e, p in sorted(zip(starts, ends, pitches))
    ]
    pm.instruments.append(instrument)
    path = Path(path)
    with atomic_file(path) as tmp:
        pm.write(str(tmp))
    return path


def midi_to_roll(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Reads a MIDI file onto a quarter-note grid.

    The grid follows the file's own tempo map (one frame per `resolution` ticks), so
    tempo changes do not stretch the roll. Drum tracks are ignored: they carry no
    pitch. Notes outside 21..108 are dropped and counted.

    Returns:
        `(roll, dropped)`: the (T, 88) float32 roll and the number of dropped notes.

    Raises:
        Whatever pretty_midi/mido raise for an unreadable file (the `midi_dir` data
        source catches these and skips the file).
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(path))
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    if not notes:
        return np.zeros((0, NUM_KEYS), dtype=np.float32), 0
    starts = np.array([n.start for n in notes])
    ends = np.array([n.end for n in notes])
    pitches = np.array([n.pitch for n in notes])
    # Quarter-note boundaries in seconds; one extra so the last note's end is covered.
    num_quarters = int(np.ceil(pm.time_to_tick(ends.max()) / pm.resolution)) + 1
    grid = np.array([pm.tick_to_time(k * pm.resolution) for k in range(num_quarters)])
    # Convert seconds to fractional frame positions by interpolating on the grid, so
    # the same sampling rule as for music21 scores applies.
    frames = np.arange(num_quarters, dtype=np.float64)
    start_frames = np.interp(starts, grid, frames)
    end_frames = np.interp(ends, grid, frames)
    in_range = (pitches >= LOWEST_PITCH) & (pitches <= HIGHEST_PITCH)
    roll = notes_to_roll(
        start_frames[in_range], end_frames[in_range], pitches[in_range]
    )
    return roll, int((~in_range).sum())


def plot_piano_roll(
    roll: np.ndarray, path: str | os.PathLike, title: str | None = None
) -> Path:
    """Saves a piano roll as a PNG: time (quarter notes) across, MIDI pitch up.

    Uses a bare `Figure` with the Agg canvas rather than pyplot, so it works on
    headless machines and never touches pyplot's global figure state.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    roll = check_roll(roll)
    num_frames = roll.shape[0]
    fig = Figure(figsize=(min(4 + num_frames / 16, 24), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(
        roll.T,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap="Greys",
        vmin=0.0,
        vmax=1.0,
        extent=(0, max(num_frames, 1), LOWEST_PITCH - 0.5, HIGHEST_PITCH + 0.5),
    )
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
