# Sourced by nbclient.sh and jupyterlab.sh: the virtualenv under the target directory (the
# one kernel/tests/conformance/run.sh makes) with the given PyPI packages, the kernel binary,
# and Jupyter directories of our own in a temporary directory, with the `paralelo`
# kernelspec installed there by `paralelo-kernel install`. The user's Jupyter setup is
# neither read nor changed.
#
# Usage: source env.sh PACKAGE...   (sets here, root, target, venv, exe, tmp; the caller
# owns the EXIT trap and must remove "$tmp" in it)

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
"$venv/bin/pip" install --quiet --disable-pip-version-check "$@"

tmp="$(mktemp -d)"
# No __pycache__ next to the tests in the source tree.
export PYTHONDONTWRITEBYTECODE=1
export JUPYTER_DATA_DIR="$tmp/data"
export JUPYTER_CONFIG_DIR="$tmp/config"
export JUPYTER_RUNTIME_DIR="$tmp/runtime"
export JUPYTERLAB_SETTINGS_DIR="$tmp/lab-settings"
export JUPYTERLAB_WORKSPACES_DIR="$tmp/lab-workspaces"
export EVCXR_CONFIG_DIR="$tmp/evcxr"
export IPYTHONDIR="$tmp/ipython"
unset JUPYTER_PATH
mkdir -p "$JUPYTER_DATA_DIR" "$JUPYTER_CONFIG_DIR" "$JUPYTER_RUNTIME_DIR"
# Share the build cache with `cargo test -p paralelo-kernel`, so only one of them is cold.
export PARALELO_KERNEL_CACHE="${PARALELO_KERNEL_CACHE:-$target/tmp/paralelo-kernel-cache}"

# --user writes to $JUPYTER_DATA_DIR/kernels/paralelo.
"$exe" install --user
"$venv/bin/python" - <<'PY'
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec("paralelo")
print("kernelspec:", spec.resource_dir, "|", spec.display_name)
assert spec.display_name == "Rust (paralelo)", spec.display_name
PY
