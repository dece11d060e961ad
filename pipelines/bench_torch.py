"""The torch rows of `lstmsuite bench layers`, run in their own process.

    python pipelines/bench_torch.py --cell lstm --reps 7 \
        --main '{"B": 64, "T": 100, "D": 128, "H": 256}' \
        --long '{"B": 32, "T": 1000, "D": 64, "H": 128}'

Kept free of TensorFlow and of this project's imports so that it runs in any Python
that has torch, and prints one JSON line with the same keys as the Keras rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def median_time(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rss_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def step_peak_mb(step):
    """As `bench_layers.step_peak_mb`, copied to keep this file free of the
    project's imports."""
    base = rss_mb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    step()
    return rss_mb("VmHWM") - base


def device():
    """CUDA where torch sees a GPU (cuDNN's LSTM and GRU), else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def synchronized(fn):
    """`fn`, returning only once the GPU has finished its work (CUDA runs
    asynchronously: without this a time would measure only the launch)."""
    import torch

    if device() != "cuda":
        return fn

    def call(*args):
        fn(*args)
        torch.cuda.synchronize()

    return call


def make(cell, shape):
    import torch

    rnn_class = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    rnn = rnn_class(shape["D"], shape["H"], batch_first=True).to(device())
    optimizer = torch.optim.Adam(rnn.parameters())
    x = torch.randn(shape["B"], shape["T"], shape["D"], device=device())
    y = torch.randn(shape["B"], shape["H"], device=device())

    def train():
        optimizer.zero_grad()
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(out[:, -1], y)
        loss.backward()
        optimizer.step()

    def infer(batch=None):
        with torch.no_grad():
            rnn(x if batch is None else x[:batch])

    return synchronized(train), synchronized(infer)


def cuda_step_peak_mb(step):
    """The GPU memory a step allocates at its peak, above what is live before it."""
    import torch

    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell", choices=["lstm", "gru"], required=True)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--main", required=True)
    parser.add_argument("--long", required=True)
    parser.add_argument("--no-long", action="store_true")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only the long step's peak memory (run under bench_layers.MEMORY_ENV)",
    )
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    if args.memory:
        long_train, _ = make(args.cell, json.loads(args.long))
        long_train()
        measure = cuda_step_peak_mb if device() == "cuda" else step_peak_mb
        print(json.dumps({"long_peak_mb": measure(long_train)}))
        return
    train, infer = make(args.cell, json.loads(args.main))
    row = {
        "train_s": median_time(train, args.reps),
        "infer_s": median_time(infer, args.reps),
        "latency_s": median_time(lambda: infer(1), args.reps),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_device": device(),
    }
    if not args.no_long:
        long_train, _ = make(args.cell, json.loads(args.long))
        long_train()
        row["long_train_s"] = median_time(long_train, max(2, args.reps // 2), 0)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
