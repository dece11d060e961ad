"""`lstmsuite bench reliability`: kill training runs and check that they resume.

    lstmsuite bench reliability                 # 52 kills across the four apps
    lstmsuite bench reliability --apps music --random 4 --work /tmp/sweep

For a tiny config of each app, a training run is killed with SIGKILL, once per
trial: at the moments that matter (through the runner's fault points, see
`lstmsuite.pipelines.contract.fault_point`: the config being written, an epoch's
history row written but not its backup, the backup weights written but not their
metadata, a checkpoint saved but not renamed, the state being written) and at
random moments. The same command then runs again, and the run directory must hold:
every epoch exactly once in history.csv, the same epoch count in state.json,
checkpoints that are whole .keras files, and an `evaluate` that works. It prints
one line per trial, then `survived K/N`. Runs are subprocesses of the installed
`lstmsuite` command, so this module imports no app.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

EPOCHS = 3
# A tiny run of each app: its shipped config, few epochs, built-in data (the
# translation pairs are written by `_translation_data`).
APPS = {
    "music": ["--config", "music/tiny", "--set", "data.options.limit=12"],
    "handwriting": ["--config", "handwriting/tiny"],
    "translation": ["--config", "translation/tiny"],
    "captioning": ["--config", "captioning/tiny"],
}
FAULTS = [
    "write:config.yaml:1",
    "history:1",
    "history:2",
    "backup:1",
    "backup:2",
    "checkpoint:1",
    "checkpoint:3",
    "write:state.json:2",
    "write:training_metadata.json:2",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lstmsuite bench reliability", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument(
        "--random", type=int, default=4, help="random-moment kills per app"
    )
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="folder for the runs (default: a temp dir)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.work or tempfile.mkdtemp(prefix="lstmsuite-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    apps = [a for a in args.apps.split(",") if a]
    unknown = sorted(set(apps) - set(APPS))
    if unknown:
        parser.error(f"unknown apps {unknown}; choices: {', '.join(APPS)}")
    faults = [f for f in args.faults.split(",") if f]

    survived = total = 0
    for app in apps:
        base = [*APPS[app], "--set", f"training.epochs={EPOCHS}"]
        if app == "translation":
            base += ["--set", f"data.path={_translation_data(work)}"]
        # One clean run gives the duration that random kills are drawn within.
        clean = work / app / "clean"
        started = time.time()
        _train(app, base, clean)
        duration = time.time() - started
        ok, why = check_run_dir(app, clean, EPOCHS)
        print(f"{app:12s} clean run ({duration:.0f} s): {'ok' if ok else why}")
        trials = [("fault", f) for f in faults]
        trials += [
            ("after", rng.uniform(0.3, 1.0) * duration) for _ in range(args.random)
        ]
        for k, (kind, when) in enumerate(trials):
            run = work / app / f"trial-{k}"
            killed = _train(app, base, run, **{kind: when})
            resumed = _train(app, base, run)
            ok, why = (
                (False, resumed.stderr.strip()[-300:])
                if resumed.returncode
                else (check_run_dir(app, run, EPOCHS))
            )
            total += 1
            survived += ok
            label = when if kind == "fault" else f"kill after {when:.1f} s"
            state = "killed" if killed.returncode == -signal.SIGKILL else "finished"
            print(
                f"{app:12s} {label:32s} {state:8s} {'ok' if ok else 'FAILED: ' + why}"
            )
            sys.stdout.flush()
            if ok:
                shutil.rmtree(run, ignore_errors=True)
    print(f"survived {survived}/{total}")
    return 0 if survived == total else 1


def check_run_dir(app: str, run: Path, epochs: int) -> tuple[bool, str]:
    """(True, "") when the run directory is whole after `epochs` epochs; else the
    first problem found."""
    history = run / "history.csv"
    if not history.exists():
        return False, "no history.csv"
    with open(history, newline="") as f:
        logged = [int(row["epoch"]) for row in csv.DictReader(f)]
    if logged != list(range(epochs)):
        return False, f"history.csv epochs {logged}"
    try:
        state = json.loads((run / "checkpoints" / "state.json").read_text())
    except (OSError, ValueError) as e:
        return False, f"state.json: {e}"
    if state.get("epoch") != epochs:
        return False, f"state.json says epoch {state.get('epoch')}"
    for name in ("best.keras", "last.keras"):
        path = run / "checkpoints" / name
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.testzip() is not None:
                    return False, f"{name} is damaged"
        except (OSError, zipfile.BadZipFile) as e:
            return False, f"{name}: {e}"
    evaluated = _lstmsuite(["evaluate", app, "--run-dir", str(run)])
    if evaluated.returncode != 0:
        return False, "evaluate: " + evaluated.stderr.strip()[-300:]
    return True, ""


def _train(app, base, run: Path, fault: str | None = None, after: float | None = None):
    command = ["train", app, *base, "--set", "runtime.verbose=0", "--run-dir", str(run)]
    env = {"LSTMSUITE_FAULT": fault} if fault else {}
    if after is None:
        return _lstmsuite(command, env)
    process = subprocess.Popen(
        _command(command),
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _lstmsuite(command, env=None):
    return subprocess.run(
        _command(command),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _command(command):
    return [sys.executable, "-m", "lstmsuite.pipelines.cli", *command]


def _translation_data(work: Path) -> Path:
    """300 English-French number phrases in the Anki format."""
    path = work / "numbers.tsv"
    english = "one two three four five six seven eight".split()
    french = "un deux trois quatre cinq six sept huit".split()
    rng = random.Random(0)
    lines = []
    for _ in range(300):
        words = [rng.randrange(8) for _ in range(rng.randint(1, 4))]
        en = " ".join(english[w] for w in words).capitalize() + "."
        fr = " ".join(french[w] for w in words).capitalize() + "."
        lines.append(f"{en}\t{fr}\tCC-BY 2.0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
