"""`lstmsuite bench layers`: speed and memory of every recurrent layer, in one run.

    lstmsuite bench layers                    # the full table (~9 min on 2 cores)
    lstmsuite bench layers --quick            # small shapes, a smoke run (~2 min)
    lstmsuite bench layers --only lstm,keras_lstm --reps 5
    lstmsuite bench layers --torch-python /path/to/venv/bin/python
    lstmsuite bench layers --only lstm,mingru,minlstm,mlstm --long-shape 64,1000,128,256

For each layer of `layers/` and for `keras.layers.LSTM`/`GRU` (and `torch.nn.LSTM`/
`GRU` when a Python with torch is found, run in a subprocess) it measures:

- train: one optimizer step (forward + backward + Adam), (B=64, T=100, D=128, H=256)
- infer: a forward pass of the same shape; latency: the same with B=1
- long: one training step at (B=32, T=1000, D=64, H=128) (`--long-shape`), and
  the peak memory of that step (each in a fresh subprocess per layer; see
  `memory_probe`)
- GFLOP/s of the train step against this machine's measured float32 matmul peak.

On a GPU the Keras rows run on the backend's device (JAX: `KERAS_BACKEND=jax`), the
torch rows on CUDA, and the peak memory is the device's: the most the process
held, read from the backend's allocator after the long step (JAX) or the step's
own peak (torch). A row that fails (a layer the backend or device cannot run)
is marked failed in the table and the others are still measured.

Every time is the median of `--reps` repetitions after warm-up, measured in a fresh
process per row. With `--rounds K` (default 3) every row is measured K times, round
robin over the rows, and the table shows the median of the K: a machine whose speed
drifts during the run (other tenants, heat) then shifts all rows alike instead of
whichever rows it happened to meet, so ratios stay comparable. The long-sequence
runs are measured once. The table comes first, then one JSON line with the same
figures and every round's times. Ratios compare within this run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MAIN = {"B": 64, "T": 100, "D": 128, "H": 256}
LONG = {"B": 32, "T": 1000, "D": 64, "H": 128}
QUICK_MAIN = {"B": 16, "T": 20, "D": 16, "H": 32}
QUICK_LONG = {"B": 8, "T": 100, "D": 16, "H": 32}

# name -> (description, gate blocks for the FLOP count, reference row for ratios)
ROWS = {
    "keras_lstm": ("keras.layers.LSTM", 4, None),
    "keras_gru": ("keras.layers.GRU", 3, None),
    "keras_lstm_rd": ("keras.layers.LSTM recurrent_dropout=0.25", 4, "keras_lstm"),
    "lstm": ("layers.LSTM", 4, "keras_lstm"),
    "lstm_jit": ("layers.LSTM, jit_compile=True", 4, "keras_lstm"),
    "gru": ("layers.GRU", 3, "keras_gru"),
    "peephole": ("layers.PeepholeLSTM", 4, "lstm"),
    "cifg": ("layers.CIFGLSTM", 3, "lstm"),
    "lstmp": ("layers.LSTMP proj_units=H/2", 4, "lstm"),
    "layernorm": ("layers.LayerNormLSTM", 4, "lstm"),
    "lstm_variational": ("layers.LSTM variational rd=0.25", 4, "lstm"),
    "lstm_semeniuta": ("layers.LSTM semeniuta rd=0.25", 4, "lstm"),
    "lstm_zoneout": ("layers.LSTM zoneout c=0.1 h=0.1", 4, "lstm"),
    "gru_variational": ("layers.GRU variational rd=0.25", 3, "gru"),
    # The modern cells. `None` gates: no recurrent matmul of the classic shape to
    # count FLOPs for (parallel and scan forms), so no GFLOP/s.
    "slstm": ("layers.SLSTM num_heads=4", 4, "lstm"),
    "mogrifier": ("layers.MogrifierLSTM rounds=5", 4, "lstm"),
    "mogrifier_rank": ("layers.MogrifierLSTM rounds=5 rank=H/8", 4, "lstm"),
    "mlstm": ("layers.MLSTM num_heads=4", None, "lstm"),
    "mlstm_recurrent": ("layers.MLSTM num_heads=4, recurrent form", None, "mlstm"),
    "minlstm": ("layers.MinLSTM", None, "lstm"),
    "mingru": ("layers.MinGRU", None, "lstm"),
    "torch_lstm": ("torch.nn.LSTM", 4, "lstm"),
    "torch_gru": ("torch.nn.GRU", 3, "gru"),
}
TORCH_ROWS = ("torch_lstm", "torch_gru")


def make_layer(name: str, units: int):
    """The Keras layer a row measures (last output only, as a classifier uses)."""
    import keras

    from lstmsuite import layers

    builders = {
        "keras_lstm": lambda: keras.layers.LSTM(units),
        "keras_gru": lambda: keras.layers.GRU(units),
        "keras_lstm_rd": lambda: keras.layers.LSTM(units, recurrent_dropout=0.25),
        "lstm": lambda: layers.LSTM(units),
        "lstm_jit": lambda: layers.LSTM(units),
        "gru": lambda: layers.GRU(units),
        "peephole": lambda: layers.PeepholeLSTM(units),
        "cifg": lambda: layers.CIFGLSTM(units),
        "lstmp": lambda: layers.LSTMP(units, proj_units=units // 2),
        "layernorm": lambda: layers.LayerNormLSTM(units),
        "lstm_variational": lambda: layers.LSTM(units, recurrent_dropout=0.25),
        "lstm_semeniuta": lambda: layers.LSTM(
            units, recurrent_dropout=0.25, recurrent_dropout_mode="semeniuta"
        ),
        "lstm_zoneout": lambda: layers.LSTM(
            units, zoneout_cell=0.1, zoneout_hidden=0.1
        ),
        "gru_variational": lambda: layers.GRU(units, recurrent_dropout=0.25),
        "slstm": lambda: layers.SLSTM(units, num_heads=4),
        "mogrifier": lambda: layers.MogrifierLSTM(units),
        "mogrifier_rank": lambda: layers.MogrifierLSTM(units, rank=units // 8),
        "mlstm": lambda: layers.MLSTM(units, num_heads=4),
        "mlstm_recurrent": lambda: _recurrent_form(layers.MLSTM(units, num_heads=4)),
        "minlstm": lambda: layers.MinLSTM(units),
        "mingru": lambda: layers.MinGRU(units),
    }
    return builders[name]()


def _recurrent_form(layer):
    """`layer` (an `MLSTM`) made to run its step loop instead of its chunkwise
    form: the row that shows what the whole-sequence form buys."""
    layer._form = "recurrent"
    return layer


def build_model(name: str, shape: dict):
    import keras

    inputs = keras.Input((shape["T"], shape["D"]), batch_size=None)
    outputs = make_layer(name, shape["H"])(inputs)
    model = keras.Model(inputs, outputs)
    # "auto" is each backend's default: no XLA for TensorFlow on a CPU (the rows
    # users get), jit for JAX (without it JAX runs op by op, ~400 ms a step).
    jit_compile = True if name.endswith("_jit") else "auto"
    model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    return model


def repetition_times(fn, reps: int, warmup: int = 2) -> list[float]:
    """Seconds of each of `reps` calls of `fn`, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn, reps: int, warmup: int = 2) -> float:
    return statistics.median(repetition_times(fn, reps, warmup))


def data(shape: dict, batch: int | None = None, width: int | None = None):
    import numpy as np

    rng = np.random.default_rng(0)
    batch = batch or shape["B"]
    x = rng.standard_normal((batch, shape["T"], shape["D"])).astype("float32")
    y = rng.standard_normal((batch, width or shape["H"])).astype("float32")
    return x, y


def output_width(name: str, units: int) -> int:
    return units // 2 if name == "lstmp" else units


def measure_keras(name: str, main: dict, reps: int) -> dict:
    model = build_model(name, main)
    x, y = data(main, width=output_width(name, main["H"]))
    x1 = x[:1]
    train = median_time(lambda: model.train_on_batch(x, y), reps)
    infer = median_time(lambda: model.predict_on_batch(x), reps)
    latency = median_time(lambda: model.predict_on_batch(x1), reps)
    return {"train_s": train, "infer_s": infer, "latency_s": latency}


def rss_mb(field: str) -> float:
    """VmRSS / VmHWM of this process in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def long_probe(name: str, long: dict, reps: int) -> dict:
    """Runs in its own process: the long-sequence training step time, and on a
    GPU with JAX the device memory the process held at its peak (`long_peak_mb`,
    from `gpu_peak_mb`)."""
    model = build_model(name, long)
    x, y = data(long, width=output_width(name, long["H"]))
    model.train_on_batch(x, y)  # trace and compile outside the measurement
    seconds = median_time(lambda: model.train_on_batch(x, y), reps, warmup=0)
    row = {"long_train_s": seconds}
    peak = gpu_peak_mb()
    if peak is not None:
        row["long_peak_mb"] = peak
    return row


def gpu_peak_mb() -> float | None:
    """The most device memory this process has held (MiB), on a JAX GPU; None
    elsewhere. It counts the model, its optimizer state and the batch besides the
    step's activations, so compare it between rows of one GPU run only."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    device = jax.devices()[0]
    if device.platform != "gpu":
        return None
    stats = device.memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return peak / 2**20 if peak is not None else None


# The environment of the memory probes. glibc serves requests of at least this many
# bytes with mmap and gives them back to the system on free, so the process's RSS
# follows its live tensors (a step of the long run holds 16 KiB ones and up; the
# --quick one, 1 KiB ones).
# With glibc's default (a threshold that grows up to 32 MiB) freed tensors stay in
# the heap and the next step re-uses them: its RSS peak then said nothing (3 to
# 14 MB, where the step keeps ~156 MB of activations for its gradient).
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "1024"}


def memory_probe(name: str, long: dict) -> dict:
    """Runs in its own process, under `MEMORY_ENV`: the peak memory of one
    long-sequence training step, above what is live between steps.

    VmHWM during the step minus VmRSS before it, having reset VmHWM (writing 5 to
    clear_refs); the step before it traces and compiles. (Allocations are slower
    under `MEMORY_ENV`, so no time is measured here.) Only for the rows
    `measures_memory` allows.
    """
    model = build_model(name, long)
    x, y = data(long, width=output_width(name, long["H"]))
    model.train_on_batch(x, y)
    return {"long_peak_mb": step_peak_mb(lambda: model.train_on_batch(x, y))}


def measures_memory(name: str) -> bool:
    """Whether `memory_probe` means something for this Keras row: not under XLA
    (JAX, and `jit_compile=True`), whose runtime keeps its buffers from step to
    step, out of sight of RSS (it showed 0-97 MB for steps that hold ~157 MB)."""
    import keras

    return keras.backend.backend() == "tensorflow" and not name.endswith("_jit")


def step_peak_mb(step) -> float:
    """MiB by which running `step()` raises this process's RSS at its peak."""
    base = rss_mb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:  # not Linux: VmHWM is the process's peak so far
        pass
    step()
    return rss_mb("VmHWM") - base


def run_subprocess(
    args: list[str], python: str = sys.executable, env: dict | None = None
) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    proc = subprocess.run(
        [python, *args], capture_output=True, text=True, env=env, timeout=1800
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def matmul_peak_gflops(n: int = 2048, reps: int = 10) -> float:
    """Float32 matmul throughput of this machine through the Keras backend, the
    ceiling we compare to: the fastest of `reps` (n, n) @ (n, n) products.

    The fastest, not the median, because a ceiling must not be beaten: the median
    of 1024-sized products read 200-220 GFLOP/s in bench runs, while the same
    machine reaches 310-350 (torch's LSTM row then showed 132% of "peak").
    On a GPU with JAX this is at JAX's default float32 matmul precision, which is
    what the Keras rows run at too (TF32 on recent NVIDIA GPUs).
    """
    import keras

    if keras.backend.backend() == "jax":
        import jax

        a = jax.random.normal(jax.random.key(0), (n, n))
        b = jax.random.normal(jax.random.key(1), (n, n))
        product = jax.jit(jax.numpy.matmul)

        def matmul():
            product(a, b).block_until_ready()

    else:
        import tensorflow as tf

        a = tf.random.normal((n, n))
        b = tf.random.normal((n, n))
        product = tf.function(lambda: tf.linalg.matmul(a, b))

        def matmul():
            product().numpy()

    # Five warm-up calls: oneDNN's first calls build its kernels and wake threads.
    times = repetition_times(matmul, reps, warmup=5)
    return 2 * n**3 / min(times) / 1e9


def device_description() -> str:
    """Where the Keras rows run: the backend and its first device."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"jax {jax.__version__} on {device.platform}: {device.device_kind}"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return f"tensorflow {tf.__version__} on " + ("gpu" if gpus else "cpu")
    return backend


def train_flops(shape: dict, gates: int | None, name: str) -> float | None:
    """Matmul FLOPs of one train step: forward, then about twice that backward
    (None for the rows whose cost is not the classic matmuls')."""
    if gates is None:
        return None
    b, t, d, h = shape["B"], shape["T"], shape["D"], shape["H"]
    rec = output_width(name, h)
    forward = 2 * b * t * (d + rec) * gates * h
    if name == "lstmp":
        forward += 2 * b * t * h * rec
    return 3 * forward


ROUND_KEYS = ("train_s", "infer_s", "latency_s")


def combine_rounds(rows: list[dict]) -> dict:
    """One row from a row's rounds: the median of each time measured every round
    (and the rounds themselves, under `rounds_<key>`); the rest from the first.
    Rounds that failed (`error`) are left out; a row that failed in every round
    keeps its first error."""
    rows = [row for row in rows if "error" not in row] or rows[:1]
    if "error" in rows[0]:
        return dict(rows[0])
    combined = dict(rows[0])
    for key in ROUND_KEYS:
        values = [row[key] for row in rows]
        combined[key] = statistics.median(values)
        combined[f"rounds_{key}"] = values
    return combined


def measure_row(name, common, torch_python, reps, main_shape, long_shape, long):
    """One row's figures, measured in a fresh process (the T=1000 run if `long`)."""
    if name in TORCH_ROWS:
        torch_args = [
            str(Path(__file__).with_name("bench_torch.py")),
            "--cell",
            name.removeprefix("torch_"),
            "--reps",
            str(reps),
            "--main",
            json.dumps(main_shape),
            "--long",
            json.dumps(long_shape),
        ]
        row = run_subprocess(
            torch_args + ([] if long else ["--no-long"]), python=torch_python
        )
        if long:
            row.update(
                run_subprocess(
                    torch_args + ["--memory"], python=torch_python, env=MEMORY_ENV
                )
            )
        return row
    # A fresh process per row, so no row inherits another's threads, caches or
    # memory.
    row = run_subprocess(common + ["--probe", name])
    if long:
        probe = common + ["--probe", name, "--probe-kind"]
        row.update(run_subprocess(probe + ["long"]))
        if measures_memory(name):
            row.update(run_subprocess(probe + ["memory"], env=MEMORY_ENV))
    return row


def find_torch_python(explicit: str | None) -> str | None:
    candidates = [explicit] if explicit else [sys.executable]
    for python in candidates:
        probe = subprocess.run(
            [python, "-c", "import torch"], capture_output=True, timeout=120
        )
        if probe.returncode == 0:
            return python
    return None


def format_table(
    results: dict, main: dict, long: dict, peak: float, rounds: int = 1
) -> str:
    header = (
        f"{'layer':<42}{'train ms':>10}{'infer ms':>10}{'B=1 ms':>9}"
        f"{'T=1000 ms':>11}{'peak MB':>9}{'GFLOP/s':>9}{'%peak':>7}"
        f"{'train x':>9}{'infer x':>9}{'T=1000 x':>10}{'mem x':>7}  vs"
    )
    lines = [
        f"main (B,T,D,H)={tuple(main.values())}  long={tuple(long.values())}  "
        f"matmul peak {peak:.1f} GFLOP/s  median of {rounds} round(s)",
        header,
        "-" * len(header),
    ]
    for name, row in results.items():
        ref = ROWS[name][2]
        ref_row = results.get(ref) if ref else None

        def ratio(key, row=row, ref_row=ref_row):
            if not ref_row or not row.get(key) or not ref_row.get(key):
                return "-"
            return f"{row[key] / ref_row[key]:.2f}"

        def ms(key, row=row):
            return f"{row[key] * 1e3:.1f}" if row.get(key) else "-"

        peak_mb = f"{row['long_peak_mb']:.0f}" if "long_peak_mb" in row else "-"
        gflops = row.get("gflops")
        lines.append(
            f"{ROWS[name][0] + (' (failed)' if 'error' in row else ''):<42}"
            f"{ms('train_s'):>10}{ms('infer_s'):>10}"
            f"{ms('latency_s'):>9}{ms('long_train_s'):>11}{peak_mb:>9}"
            f"{(f'{gflops:.1f}' if gflops else '-'):>9}"
            f"{(f'{100 * gflops / peak:.0f}' if gflops else '-'):>7}"
            f"{ratio('train_s'):>9}{ratio('infer_s'):>9}"
            f"{ratio('long_train_s'):>10}{ratio('long_peak_mb'):>7}  {ref or ''}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lstmsuite bench layers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small shapes, smoke run")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions")
    parser.add_argument(
        "--rounds", type=int, default=None, help="measurements per row, round robin"
    )
    parser.add_argument("--only", default=None, help="comma-separated row names")
    parser.add_argument("--torch-python", default=None, help="a Python with torch")
    parser.add_argument("--no-long", action="store_true", help="skip the T=1000 runs")
    parser.add_argument(
        "--long-shape",
        default=None,
        help="B,T,D,H of the long run (default 32,1000,64,128), e.g. 64,1000,128,256",
    )
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--probe-kind", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    main_shape = QUICK_MAIN if args.quick else MAIN
    long_shape = QUICK_LONG if args.quick else LONG
    if args.long_shape:
        try:
            values = [int(v) for v in args.long_shape.split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or min(values) < 1:
            parser.error(
                "--long-shape must be four positive integers B,T,D,H; "
                f"got {args.long_shape!r}"
            )
        long_shape = dict(zip("BTDH", values))
    reps = args.reps or (3 if args.quick else 7)
    rounds = args.rounds or (1 if args.quick else 3)
    if reps < 1 or rounds < 1:
        parser.error(f"--reps and --rounds must be positive; got {reps}, {rounds}")

    if args.probe:  # inside a subprocess
        if args.probe_kind == "long":
            print(json.dumps(long_probe(args.probe, long_shape, max(2, reps // 2))))
        elif args.probe_kind == "memory":
            print(json.dumps(memory_probe(args.probe, long_shape)))
        else:
            print(json.dumps(measure_keras(args.probe, main_shape, reps)))
        return 0

    names = list(ROWS)
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in names if n not in ROWS]
        if unknown:
            parser.error(f"unknown rows {unknown}; choices: {', '.join(ROWS)}")
    torch_python = None
    if any(n in TORCH_ROWS for n in names):
        torch_python = find_torch_python(args.torch_python)
        if torch_python is None:
            print("torch not found: skipping the torch rows", file=sys.stderr)
            names = [n for n in names if n not in TORCH_ROWS]

    common = ["-m", "lstmsuite.pipelines.bench_layers"] + (
        ["--quick"] if args.quick else []
    )
    common += ["--reps", str(reps)]
    if args.long_shape:
        common += ["--long-shape", args.long_shape]
    peak = matmul_peak_gflops()
    device = device_description()
    samples: dict[str, list[dict]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names:
            print(
                f"measuring {name} (round {round_index + 1}/{rounds}) ...",
                file=sys.stderr,
                flush=True,
            )
            long = round_index == 0 and not args.no_long
            try:
                row = measure_row(
                    name, common, torch_python, reps, main_shape, long_shape, long
                )
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                # One row that cannot run here (a backend or device it does not
                # support) must not cost the others' measurements.
                print(f"{name} failed: {error}", file=sys.stderr, flush=True)
                row = {"error": str(error)[-1000:]}
            samples[name].append(row)
    results = {name: combine_rounds(rows) for name, rows in samples.items()}
    for name, row in results.items():
        flops = train_flops(main_shape, ROWS[name][1], name)
        row["gflops"] = flops and row.get("train_s") and flops / row["train_s"] / 1e9

    print(f"device: {device}")
    print(format_table(results, main_shape, long_shape, peak, rounds))
    print(
        json.dumps(
            {
                "benchmark": "layers",
                "main": main_shape,
                "long": long_shape,
                "reps": reps,
                "rounds": rounds,
                "matmul_peak_gflops": peak,
                "device": device,
                "rows": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
