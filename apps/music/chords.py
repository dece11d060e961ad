"""Do the frames hold chords? Statistics of piano rolls, and a benchmark on models.

    lstmsuite bench chords --run-dir runs/music/jsb --run-dir runs/music/jsb_nade

A four-part chorale sounds, on almost every beat, a major or minor triad or part of
one (a doubled root, an open fifth, a bare third). A model with 88 independent keys
cannot aim for that: it samples each key alone, so its frames mix notes of
different chords. These statistics put a number on it:

* `notes_per_frame`: mean number of keys on per frame (silent frames included);
* `silent_share`: share of frames with no key on;
* `triad_share`: among the frames that sound, the share whose pitch classes all
  belong to one major or minor triad (so a full triad in any voicing and doubling,
  or a subset of one: a single note, a third, a fifth).

The benchmark generates continuations of test-set openings from each run (the
run's own `generate` settings, every seed different) and prints the statistics of
the generated frames beside those of the test set itself.
"""

from __future__ import annotations

import numpy as np

from lstmsuite.apps.music.midi import LOWEST_PITCH

#: Every major and minor triad as a 12-bit pitch-class mask (24 of them).
TRIADS = np.array(
    [
        sum(1 << ((root + step) % 12) for step in steps)
        for root in range(12)
        for steps in ((0, 4, 7), (0, 3, 7))
    ],
    dtype=np.int64,
)


def pitch_class_masks(roll: np.ndarray) -> np.ndarray:
    """(T, 88) roll -> (T,) 12-bit masks of the pitch classes sounding per frame."""
    roll = np.asarray(roll) > 0.5
    classes = (np.arange(roll.shape[-1]) + LOWEST_PITCH) % 12
    bits = (roll[..., None] & (classes[:, None] == np.arange(12))).any(axis=-2)
    return (bits.astype(np.int64) << np.arange(12)).sum(axis=-1)


def in_a_triad(masks: np.ndarray) -> np.ndarray:
    """Whether each pitch-class mask is a subset of some major or minor triad."""
    masks = np.asarray(masks, dtype=np.int64)[..., None]
    return ((masks & ~TRIADS) == 0).any(axis=-1)


def chord_statistics(rolls) -> dict[str, float]:
    """`frames`, `notes_per_frame`, `silent_share` and `triad_share` over all the
    frames of a list of (T, 88) rolls (see the module docstring)."""
    frames = np.concatenate([np.asarray(r, dtype=np.float32) for r in rolls], axis=0)
    if frames.shape[0] == 0:
        raise ValueError("no frames to take chord statistics of")
    masks = pitch_class_masks(frames)
    sounding = masks != 0
    triads = in_a_triad(masks[sounding])
    return {
        "frames": int(frames.shape[0]),
        "notes_per_frame": float((frames > 0.5).sum(axis=-1).mean()),
        "silent_share": float(1.0 - sounding.mean()),
        "triad_share": float(triads.mean()) if triads.size else 0.0,
    }


def bench(argv: list[str]) -> int:
    """`lstmsuite bench chords --run-dir RUN [--run-dir RUN2 ...] [--pieces 20]
    [--frames 64] [--set K=V]...`: chord statistics of the test set and of each
    run's generated continuations, as a Markdown table and one JSON line per row."""
    import argparse
    import dataclasses
    import json
    from pathlib import Path

    from lstmsuite.apps.music.app import MusicConfig, continue_roll, load_rolls
    from lstmsuite.pipelines.contract import RunDir, load_run_config

    parser = argparse.ArgumentParser(prog="lstmsuite bench chords")
    parser.add_argument("--run-dir", action="append", required=True, dest="runs")
    parser.add_argument("--pieces", type=int, default=20, help="test openings")
    parser.add_argument("--frames", type=int, default=64, help="frames per piece")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    if args.pieces < 1 or args.frames < 1:
        parser.error("--pieces and --frames must be at least 1")

    rows = []
    test_rolls = None
    for run_dir in args.runs:
        cfg = load_run_config(MusicConfig, Path(run_dir), args.overrides)
        if test_rolls is None:
            test_rolls = load_rolls(cfg.data).get("test") or []
            if not test_rolls:
                raise SystemExit(f"{run_dir}: the run's data has no test split")
            rows.append({"source": "test set", **chord_statistics(test_rolls)})
        model = RunDir(run_dir).load_model()
        gen = cfg.generate
        base_seed = cfg.seed if gen.seed is None else gen.seed
        generated = []
        for i, piece in enumerate(test_rolls[: args.pieces]):
            primer = np.asarray(piece[: max(1, gen.primer_frames)], np.float32)
            gen_i = dataclasses.replace(gen, seed=base_seed + i)
            roll = continue_roll(model, primer, args.frames, gen_i, seed=base_seed + i)
            generated.append(roll[len(primer) :])
        label = f"{run_dir} ({cfg.model.output}, {cfg.model.cell})"
        rows.append({"source": label, **chord_statistics(generated)})

    print("| source | frames | notes per frame | silent | in a triad |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['source']} | {row['frames']} | {row['notes_per_frame']:.2f} | "
            f"{row['silent_share']:.1%} | {row['triad_share']:.1%} |"
        )
    for row in rows:
        print(json.dumps(row))
    return 0
