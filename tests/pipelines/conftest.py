import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _toy_app():
    import tests.pipelines.toy_app  # noqa: F401  (registers the "toy" app)


def subprocess_env(**extra) -> dict[str, str]:
    """Environment for a child `python`: the repo importable, TF quiet, 1 thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


PYTHON = sys.executable
