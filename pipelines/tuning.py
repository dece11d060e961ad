"""Hyperparameter search with KerasTuner, driven by the config's `tuning` section.

    lstmsuite tune music --config configs/music/bach.yaml --run-dir runs/music/tune
    lstmsuite train music --config runs/music/tune/best.yaml

    tuning:
      tuner: bayesian            # random | hyperband | bayesian
      max_trials: 12
      epochs: 5                  # per trial (hyperband: its max epochs)
      space:
        units: [128, 256, 512]   # short name = the one config field called `units`
        cell: [lstm, gru, layernorm]
        training.learning_rate: [0.003, 0.001]

Every key of `space` is a config key; each trial is the config with those keys set,
built and compiled by the app exactly as `train` would (so anything a config can say
can be tuned). Trials live in RUN/trials/ and a rerun of the same command resumes the
search (KerasTuner's `overwrite=False`). At the end RUN/best.yaml is the full config
with the best values, ready for `lstmsuite train --config`, and RUN/tuning.json lists
every trial.

Distributed search is KerasTuner's: start the same command in several processes
with `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT` and `KERASTUNER_TUNER_ID`
(`chief` for the process that serves the oracle, `tuner0`, `tuner1`, ... for
workers). The chief only hands out trials and, once all are done, writes best.yaml;
the workers train. RUN must be a folder every process can reach.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from lstmsuite.pipelines import distribute
from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    field_names,
    save_config,
    set_value,
)
from lstmsuite.pipelines.contract import write_json
from lstmsuite.pipelines.training import (
    AveragedWeights,
    compile_model,
    quiet_end_of_data,
)


def resolve_space(cfg: Config) -> dict[str, list[Any]]:
    """`tuning.space` with every key made a full dotted config key, and checked."""
    leaves = field_names(type(cfg))
    resolved: dict[str, list[Any]] = {}
    for key, values in cfg.tuning.space.items():
        full = key
        if "." not in key:
            matches = [name for name in leaves if name.rsplit(".", 1)[-1] == key]
            if len(matches) != 1:
                found = ", ".join(matches) if matches else "no config field"
                raise ConfigError(
                    f"tuning.space.{key}: a short name must match exactly one config "
                    f"field (found {found}); write the dotted key, e.g. model.{key}"
                )
            full = matches[0]
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"tuning.space.{key}: expected a non-empty list of choices"
            )
        kinds = {type(v) for v in values}
        if len(kinds) > 1 and kinds != {int, float} or None in values:
            raise ConfigError(
                f"tuning.space.{key}: choices must all be numbers, all strings or all "
                f"booleans; got {values!r}"
            )
        for value in values:  # check every choice up front, as the config loads
            set_value(cfg, full, value).validate(f"tuning.space.{key}={value!r}")
        resolved[full] = list(values)
    if not resolved:
        raise ConfigError(
            "tuning.space: empty; list the values to try, e.g. units: [64, 128]"
        )
    return resolved


def trial_config(cfg: Config, space: dict[str, list[Any]], hp) -> Config:
    for key, values in space.items():
        cfg = set_value(cfg, key, hp.Choice(key, values))
    return cfg


class ConfigHyperModel(kt.HyperModel):
    """Builds each trial's model through the app, from the config plus the choices."""

    def __init__(self, app, cfg: Config, space, run_dir: Path):
        super().__init__(name=f"{cfg.app}_hypermodel")
        self.app, self.cfg, self.space, self.run_dir = app, cfg, space, run_dir
        self._data = None

    def data_for(self, trial_cfg: Config):
        # Data are loaded once, unless the search changes how they are made.
        if self._data is None or any(k.startswith("data.") for k in self.space):
            self._data = self.app.load_data(trial_cfg, self.run_dir)
        return self._data

    def build(self, hp):
        trial_cfg = trial_config(self.cfg, self.space, hp)
        model = self.app.build_model(trial_cfg, self.data_for(trial_cfg))
        compile_model(model, self.app, trial_cfg, steps_per_epoch=None)
        return model

    def fit(self, hp, model, *args, **kwargs):
        trial_cfg = trial_config(self.cfg, self.space, hp)
        data = self.data_for(trial_cfg)
        callbacks = [*kwargs.pop("callbacks", []), keras.callbacks.TerminateOnNaN()]
        if trial_cfg.training.ema_momentum:
            # First, as in training: the trial then validates, and KerasTuner
            # keeps its best epoch, with the averaged weights, the ones a run
            # of this config would save and be evaluated with.
            callbacks.insert(0, AveragedWeights(resumed=False))
        with quiet_end_of_data():
            return model.fit(
                data.train,
                validation_data=data.valid,
                callbacks=callbacks,
                shuffle=False,
                verbose=self.cfg.runtime.verbose,
                **kwargs,
            )


class _TrialLog:
    """Appends one line per trial started to RUN/trial_log.jsonl (which process ran
    which trial), the record the distributed-tuning test checks."""

    log_path: Path

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        line = {"trial": trial.trial_id, "tuner": self.tuner_id, "pid": os.getpid()}
        with open(self.log_path, "a") as f:
            f.write(json.dumps(line) + "\n")


def make_tuner(app, cfg: Config, run_dir: Path, space) -> kt.Tuner:
    tuning = cfg.tuning
    common = dict(
        hypermodel=ConfigHyperModel(app, cfg, space, run_dir),
        objective=kt.Objective(tuning.objective, direction=tuning.direction),
        executions_per_trial=tuning.executions_per_trial,
        seed=cfg.seed,
        directory=str(run_dir),
        project_name="trials",
        overwrite=False,  # resume an interrupted search
    )
    if cfg.runtime.strategy in ("mirrored", "one_device", "tpu"):
        common["distribution_strategy"] = distribute.get_strategy(cfg.runtime)
    if tuning.tuner == "random":
        base, extra = kt.RandomSearch, {"max_trials": tuning.max_trials}
    elif tuning.tuner == "bayesian":
        base, extra = kt.BayesianOptimization, {"max_trials": tuning.max_trials}
    else:
        base = kt.Hyperband
        extra = {"max_epochs": tuning.epochs, "factor": tuning.hyperband_factor}
    tuner_class = type(f"Logged{base.__name__}", (_TrialLog, base), {})
    tuner_class.log_path = run_dir / "trial_log.jsonl"
    return tuner_class(**common, **extra)


def tune(app, cfg: Config, run_dir) -> dict[str, Any]:
    """Runs (or resumes) the search; the chief / single process writes best.yaml."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    space = resolve_space(cfg)
    distribute.setup(cfg.runtime)
    keras.utils.set_random_seed(cfg.seed)
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    is_chief = "KERASTUNER_ORACLE_IP" not in os.environ or "chief" in tuner_id
    if is_chief:
        save_config(cfg, run_dir / "config.yaml")
    tuner = make_tuner(app, cfg, run_dir, space)
    search_args = (
        {} if cfg.tuning.tuner == "hyperband" else {"epochs": cfg.tuning.epochs}
    )
    tuner.search(**search_args)
    if not is_chief:
        return {"tuner_id": tuner_id, "finished": True}
    return write_results(tuner, cfg, space, run_dir)


def write_results(tuner, cfg: Config, space, run_dir: Path) -> dict[str, Any]:
    oracle = tuner.oracle
    trials = []
    for trial in oracle.trials.values():
        trials.append(
            {
                "trial": trial.trial_id,
                "status": str(trial.status),
                "score": trial.score,
                "values": {k: trial.hyperparameters.values.get(k) for k in space},
            }
        )
    best_hp = tuner.get_best_hyperparameters(1)
    if not best_hp:
        raise ConfigError(f"{run_dir}: no trial finished; see the log above")
    best_cfg = cfg
    for key in space:
        best_cfg = set_value(best_cfg, key, best_hp[0].values[key])
    best_trial = oracle.get_best_trials(1)[0]
    save_config(best_cfg, run_dir / "best.yaml")
    summary = {
        "best_values": {k: best_hp[0].values[k] for k in space},
        "best_score": best_trial.score,
        "objective": cfg.tuning.objective,
        "best_config": str(run_dir / "best.yaml"),
        "trials": trials,
    }
    write_json(run_dir / "tuning.json", summary)
    return {k: v for k, v in summary.items() if k != "trials"} | {
        "num_trials": len(trials)
    }
