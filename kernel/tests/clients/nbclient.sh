#!/usr/bin/env bash
# nbclient (PyPI) executes fixtures/user_session.ipynb and fixtures/interrupt.ipynb against
# the installed kernelspec; see test_nbclient.py for what is checked.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" "nbclient>=0.10" nbformat
trap 'rm -rf "$tmp"' EXIT

# nbclient's own timeouts bound every cell; this bounds the whole run against a hang elsewhere
# (kernel start-up, shutdown).
(cd "$here" && timeout --kill-after=10 1200 "$venv/bin/python" -m unittest -v test_nbclient)
echo "nbclient: all passed"
