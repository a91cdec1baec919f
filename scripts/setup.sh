#!/usr/bin/env bash
# Sets up everything in the repository root and runs the main demo:
#   .venv        every framework but MXNet (torch CPU 2.13.0, TensorFlow, JAX/flax/haiku, Keras 3)
#   .venv-mxnet  MXNet 1.9.1 with numpy 1.23.5
# Re-running is cheap: an environment whose pins did not change is left as it is.
# Usage: bash scripts/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

stamp() { cat pyproject.toml "$@" | sha256sum | cut -c1-16; }

make_venv() {  # make_venv DIR STAMP INSTALL-COMMAND...
  local dir=$1 want=$2; shift 2
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$want" ]; then return; fi
  echo "== setting up $dir"
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$@"
  echo "$want" > "$dir/.stamp"
}

# MXNet's wheel links libgomp/libquadmath from the system on some images.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ldconfig -p | grep -q libgomp.so.1; then
  apt-get update -qq && apt-get install -y -qq libgomp1 >/dev/null
fi

make_venv .venv "$(stamp constraints.txt)" \
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[torch,jax,keras,plot,triton,docs,dev]" \
  "tensorflow-cpu==2.21.*"

make_venv .venv-mxnet "$(stamp constraints-mxnet.txt)" \
  .venv-mxnet/bin/python -m pip install -q -c constraints-mxnet.txt -e . \
  mxnet numpy pytest hypothesis

if [ "${1:-}" != "--no-demo" ]; then
  .venv/bin/python examples/demo.py
fi
