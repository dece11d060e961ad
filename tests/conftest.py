"""Settings for the whole test suite, applied before any backend is imported."""

import os

# The tests run tiny shapes, so XLA's compile time is most of their time (the
# JAX pass compiles every layer call). Without XLA's expensive optimization
# passes the layer tests compiled and ran 25% faster (test_mlstm + test_slstm on
# JAX: 55 -> 41 s) with the same results; programs this small gain nothing from
# them. Set XLA_FLAGS yourself to test with XLA's defaults.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
)
