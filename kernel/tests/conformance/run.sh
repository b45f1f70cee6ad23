#!/usr/bin/env bash
# Runs the jupyter_kernel_test conformance suite against paralelo-kernel (two sample sets:
# test_paralelo.py and test_other_samples.py), then checks that
# `paralelo-kernel run --inplace` writes a notebook nbformat.validate accepts.
#
# A virtualenv under the target directory gets jupyter_kernel_test and nbformat from PyPI;
# the kernelspec is installed into a temporary prefix that JUPYTER_PATH points at, so the
# user's own Jupyter setup is neither read nor changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/conformance-venv"

if [ -n "${PARALELO_KERNEL_EXE:-}" ]; then
    exe="$PARALELO_KERNEL_EXE"
else
    cargo build -p paralelo-kernel --manifest-path "$root/Cargo.toml"
    exe="$target/debug/paralelo-kernel"
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "jupyter_kernel_test>=0.7" nbformat

tmp="$(mktemp -d)"
# No __pycache__ next to the tests in the source tree.
export PYTHONDONTWRITEBYTECODE=1
trap 'rm -rf "$tmp"' EXIT
export JUPYTER_PATH="$tmp/share/jupyter"
export JUPYTER_DATA_DIR="$tmp/data"
export JUPYTER_CONFIG_DIR="$tmp/config"
export JUPYTER_RUNTIME_DIR="$tmp/runtime"
export EVCXR_CONFIG_DIR="$tmp/evcxr"
# Share the build cache with `cargo test -p paralelo-kernel`, so only one of them is cold.
export PARALELO_KERNEL_CACHE="${PARALELO_KERNEL_CACHE:-$target/tmp/paralelo-kernel-cache}"

"$exe" install --prefix "$tmp"
"$venv/bin/python" -c 'import jupyter_client.kernelspec as k; print("kernelspec:", k.KernelSpecManager().get_kernel_spec("paralelo").resource_dir)'

# Warm the engine (a cold cache compiles paralelo once) before the suite's 15 s timeouts.
"$exe" run "$here/../fixtures/outputs.ipynb" > "$tmp/warm.log" 2>&1 || { cat "$tmp/warm.log"; exit 1; }

(cd "$here" && "$venv/bin/python" -m unittest -v test_paralelo test_other_samples)

cp "$here/../fixtures/outputs.ipynb" "$tmp/written.ipynb"
"$exe" run --inplace "$tmp/written.ipynb" > /dev/null
"$venv/bin/python" - "$tmp/written.ipynb" <<'PY'
import sys
import nbformat
nb = nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT)
nbformat.validate(nb)
assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), (nb.nbformat, nb.nbformat_minor)
print("nbformat.validate: ok,", sys.argv[1])
PY
echo "conformance: all passed"
