#!/usr/bin/env bash
# Runs the whole test suite, every backend included:
#   .venv        core, the shared contract (numpy; torch: C++ kernels, compiled, composed eager;
#                Triton interpreter; JAX: XLA, C++ kernels, Pallas interpreter; TensorFlow:
#                eager, XLA with C++ kernels), each adapter's own tests, plots, CLI, examples
#   .venv        Keras 3 once per backend (tensorflow, jax, torch), each in its own process
#   .venv-mxnet  core, contract and MXNet tests under numpy 1.23
# then ruff and the strict docs build. Sets the environments up first if needed.
# Usage: bash scripts/test.sh [extra pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-demo || { echo "setup failed"; exit 1; }

reports=$(mktemp -d)
status=0
step() {  # step NAME COMMAND... : run, remember failure
  local name=$1; shift
  echo "=== $name"
  "$@" || { echo "=== $name FAILED"; status=1; }
}
py=.venv/bin/python
export RATIONALS_REQUIRE_BACKENDS=numpy,torch,torch-compiled,torch-composed,triton,jax,jax-cpu,pallas,tf,tf-xla

step "pytest (.venv)" $py -m pytest -q -p no:cacheprovider -n 2 --dist load \
  --ignore=tests/keras --ignore=tests/mxnet --junitxml="$reports/main.xml" "$@"
for backend in tensorflow jax torch; do
  step "pytest keras[$backend]" env KERAS_BACKEND=$backend $py -m pytest -q -p no:cacheprovider \
    tests/keras --junitxml="$reports/keras-$backend.xml" "$@"
done
step "pytest (.venv-mxnet)" env RATIONALS_REQUIRE_BACKENDS=numpy,mxnet .venv-mxnet/bin/python \
  -m pytest -q -p no:cacheprovider tests/core tests/contract tests/mxnet \
  --junitxml="$reports/mxnet.xml" "$@"
step "ruff" .venv/bin/ruff check rationals tests benchmarks examples
step "mkdocs build --strict" .venv/bin/mkdocs build --strict --quiet --site-dir "$reports/site"

$py scripts/summarize.py "$reports"/*.xml || status=1
rm -rf "$reports"
exit $status
