"""`lstmsuite bench layers`: how rounds combine, one real (tiny) run, and the
memory probe."""

import json

from lstmsuite.pipelines import bench_layers


def test_combine_rounds_takes_the_median_of_each_time_and_keeps_the_rounds():
    rows = [
        {"train_s": 3.0, "infer_s": 1.0, "latency_s": 0.5, "long_train_s": 9.0},
        {"train_s": 1.0, "infer_s": 2.0, "latency_s": 0.7},
        {"train_s": 2.0, "infer_s": 9.0, "latency_s": 0.1},
    ]
    row = bench_layers.combine_rounds(rows)
    assert (row["train_s"], row["infer_s"], row["latency_s"]) == (2.0, 2.0, 0.5)
    assert row["rounds_infer_s"] == [1.0, 2.0, 9.0]
    assert row["long_train_s"] == 9.0  # measured in the first round only


def test_matmul_peak_is_the_fastest_repetition(monkeypatch):
    """A ceiling: the median undershot the machine's rate (torch's row read 132%
    of it)."""

    def repetition_times(fn, reps, warmup):
        fn()  # the matmul itself runs
        return [0.3, 0.1, 0.2][:reps]

    monkeypatch.setattr(bench_layers, "repetition_times", repetition_times)
    peak = bench_layers.matmul_peak_gflops(n=64, reps=3)
    assert abs(peak - 2 * 64**3 / 0.1 / 1e9) < 1e-9


def test_quick_run_prints_a_table_then_json_with_every_round(capsys, monkeypatch):
    # Each row's process runs here instead (a fresh TensorFlow per round cost
    # ~25 s); the memory-probe test below runs one for real.
    def in_process(args, python=None, env=None):
        name = args[args.index("--probe") + 1]
        return bench_layers.measure_keras(name, bench_layers.QUICK_MAIN, reps=1)

    monkeypatch.setattr(bench_layers, "run_subprocess", in_process)
    argv = ["--quick", "--only", "lstm", "--no-long", "--reps", "1", "--rounds", "2"]
    assert bench_layers.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("device: ")
    assert "median of 2 round(s)" in out[1]
    assert any(line.startswith("layers.LSTM") for line in out)
    result = json.loads(out[-1])
    row = result["rows"]["lstm"]
    assert result["rounds"] == 2 and len(row["rounds_train_s"]) == 2
    assert min(row["rounds_train_s"]) <= row["train_s"] <= max(row["rounds_train_s"])
    assert row["train_s"] > 0 and row["gflops"] > 0


def test_memory_probe_counts_what_the_step_keeps_for_its_gradient():
    """Under MEMORY_ENV the probe sees the activations a training step stores,
    which grow with the sequence. An LSTM's gradient needs, for every step, at
    least h, c, its four gates and tanh(c). (Glibc's default malloc settings
    made the probe see under 40% of that.)"""
    shape = {"B": 8, "D": 16, "H": 32}
    peaks = {}
    for steps in (40, 400):
        code = (
            "import json; from lstmsuite.pipelines.bench_layers import memory_probe; "
            f"print(json.dumps(memory_probe('lstm', {dict(shape, T=steps)!r})))"
        )
        row = bench_layers.run_subprocess(["-c", code], env=bench_layers.MEMORY_ENV)
        peaks[steps] = row["long_peak_mb"]
    stored = 360 * 7 * shape["B"] * shape["H"] * 4 / 2**20  # 7 float32 (B, H)
    assert peaks[400] - peaks[40] >= stored


def test_every_row_builds_its_layer_and_a_bad_long_shape_is_refused(capsys):
    import pytest

    for name in bench_layers.ROWS:
        if name not in bench_layers.TORCH_ROWS:
            assert bench_layers.make_layer(name, 8).units == 8, name
    # The recurrent-form row of MLSTM runs its step loop, the other its chunks.
    assert bench_layers.make_layer("mlstm_recurrent", 8)._form == "recurrent"
    assert bench_layers.make_layer("mlstm", 8)._form == "auto"
    with pytest.raises(SystemExit):
        bench_layers.main(["--long-shape", "64,1000"])
    assert "four positive integers" in capsys.readouterr().err


def test_a_failing_row_is_marked_and_the_others_are_still_measured(capsys, monkeypatch):
    """A layer the backend or device cannot run (its process fails) costs its own
    row only: the table marks it failed, the JSON keeps the error."""

    def in_process(args, python=None, env=None):
        name = args[args.index("--probe") + 1]
        if name == "gru":
            raise RuntimeError("gru failed:\nno kernel for this device")
        return bench_layers.measure_keras(name, bench_layers.QUICK_MAIN, reps=1)

    monkeypatch.setattr(bench_layers, "run_subprocess", in_process)
    argv = ["--quick", "--only", "gru,lstm", "--no-long", "--reps", "1"]
    assert bench_layers.main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert out[0].startswith("device: ")
    assert any(line.startswith("layers.GRU (failed)") for line in out)
    assert any(line.startswith("layers.LSTM ") for line in out)
    rows = json.loads(out[-1])["rows"]
    assert "no kernel for this device" in rows["gru"]["error"]
    assert rows["lstm"]["train_s"] > 0
    assert "gru failed" in captured.err


def test_combine_rounds_leaves_out_failed_rounds():
    ok = {"train_s": 2.0, "infer_s": 1.0, "latency_s": 0.5}
    row = bench_layers.combine_rounds([{"error": "boom"}, ok])
    assert row["train_s"] == 2.0 and row["rounds_train_s"] == [2.0]
    assert bench_layers.combine_rounds([{"error": "a"}, {"error": "b"}]) == {
        "error": "a"
    }
