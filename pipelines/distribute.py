"""The `runtime` section of a config: tf.distribute strategy, mixed precision, XLA.

    lstmsuite train music --config configs/music/bach.yaml --set
    runtime.strategy=mirrored

`runtime.strategy`:
- `auto`: TPU when a TPU resolver finds one, mirrored over all GPUs when there are
  several, otherwise TensorFlow's default strategy (one GPU or the CPU);
- `one_device`: `runtime.device`, else the first GPU, else the CPU;
- `mirrored`: synchronous data parallelism over the local GPUs;
- `multi_worker`: `MultiWorkerMirroredStrategy`; every worker runs the same command
  with its own `TF_CONFIG` (cluster spec + task), the chief writes the run directory;
- `tpu`: `TPUStrategy` on `runtime.tpu` (or the TPU the environment names).

The strategy is made once per process (TensorFlow refuses a second collective setup),
so `setup()` caches it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from lstmsuite.pipelines.config import ConfigError, RuntimeConfig

_STRATEGY: Any = None
_STRATEGY_KEY: tuple | None = None


def setup(runtime: RuntimeConfig) -> Any:
    """Applies mixed precision and determinism, and returns the strategy to use."""
    import keras
    import tensorflow as tf

    # Mixed precision is a global Keras policy: layers built after this line compute in
    # float16/bfloat16 and keep float32 variables. Apps keep their output layer in
    # float32 (`dtype="float32"`) so losses and probabilities stay accurate.
    policy = "float32" if runtime.mixed_precision == "none" else runtime.mixed_precision
    keras.mixed_precision.set_global_policy(policy)
    if runtime.deterministic:
        tf.config.experimental.enable_op_determinism()
    return get_strategy(runtime)


def get_strategy(runtime: RuntimeConfig) -> Any:
    global _STRATEGY, _STRATEGY_KEY
    key = (runtime.strategy, runtime.device, runtime.tpu)
    if _STRATEGY is not None and _STRATEGY_KEY == key:
        return _STRATEGY
    if _STRATEGY is not None and _STRATEGY_KEY[0] in ("multi_worker", "tpu"):
        raise ConfigError(
            f"runtime.strategy: this process already set up {_STRATEGY_KEY[0]}; "
            "start a new process to change it"
        )
    _STRATEGY, _STRATEGY_KEY = _make_strategy(runtime), key
    return _STRATEGY


def _make_strategy(runtime: RuntimeConfig) -> Any:
    import tensorflow as tf

    name = runtime.strategy
    if name == "multi_worker":
        # First, before anything initializes TensorFlow's context (even listing the
        # devices does): collective ops can only be configured at startup.
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "runtime.strategy: multi_worker needs the TF_CONFIG environment "
                'variable, e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        tpu = _find_tpu(runtime.tpu)
        if tpu is not None:
            return _tpu_strategy(tpu)
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "one_device":
        device = runtime.device or (gpus[0].name if gpus else "/cpu:0")
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "tpu":
        tpu = _find_tpu(runtime.tpu)
        if tpu is None:
            raise ConfigError(
                "runtime.strategy: tpu, but no TPU was found "
                f"(runtime.tpu={runtime.tpu!r}); use auto or one_device here"
            )
        return _tpu_strategy(tpu)
    raise ConfigError(f"runtime.strategy: unknown strategy {name!r}")


def _find_tpu(address: str | None) -> Any:
    import tensorflow as tf

    # Only ask when a TPU can exist: the resolver otherwise probes the GCE metadata
    # server, which is a network call (and a long timeout) on an ordinary machine.
    if not (address or os.environ.get("TPU_NAME") or os.path.exists("/dev/accel0")):
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return resolver
    except (ValueError, RuntimeError, tf.errors.OpError):
        return None


def _tpu_strategy(resolver: Any) -> Any:
    import tensorflow as tf

    return tf.distribute.TPUStrategy(resolver)


def tf_config() -> dict[str, Any]:
    return json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")


def worker_id() -> tuple[str, int]:
    """(task type, index) of this process in a multi-worker cluster; ("chief", 0) when
    there is no cluster."""
    task = tf_config().get("task") or {}
    return task.get("type", "chief"), int(task.get("index", 0))


def is_chief() -> bool:
    """The process that writes the run directory: the `chief` task, or worker 0 when the
    cluster has no chief (TensorFlow's convention), or the only process."""
    config = tf_config()
    cluster = config.get("cluster") or {}
    task_type, index = worker_id()
    if not cluster:
        return True
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and index == 0


def num_workers() -> int:
    cluster = tf_config().get("cluster") or {}
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))
