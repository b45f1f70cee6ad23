#!/usr/bin/env bash
# JupyterLab (PyPI), served on 127.0.0.1, driven by Playwright (playwright-core from npm,
# Debian's chromium): opens a copy of a lesson, picks "Rust (paralelo)", runs all cells and
# checks what the page shows (jupyterlab.mjs). Screenshots: target/clients/jupyterlab*.png.
#
# Installs what it needs: jupyterlab into the virtualenv under target/, playwright-core into
# target/clients/node, and the chromium package when /usr/bin/chromium is missing. The
# server and the browser are always torn down (EXIT trap); every wait has a bound.
# (`--allow-root`: CI runs as root; it changes nothing for other users.)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" "jupyterlab>=4,<5"

server_pid=""
driver_pid=""
stop_group() { # PID: its process group (started with setsid), TERM then KILL
    local pid="$1" i
    [ -n "$pid" ] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
    stop_group "$driver_pid"
    stop_group "$server_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT

lesson="${PARALELO_JUPYTERLAB_LESSON:-$root/notebooks/00_procesamiento_paralelo.ipynb}"
out="$target/clients"
node_dir="$out/node"
mkdir -p "$out" "$node_dir"

if [ ! -x /usr/bin/chromium ]; then
    echo "jupyterlab: installing Debian's chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "$out/apt.log"
fi
if [ ! -f "$node_dir/node_modules/playwright-core/package.json" ]; then
    npm install --silent --no-audit --no-fund --prefix "$node_dir" "playwright-core@1"
fi

# A copy without kernel or language in its metadata: JupyterLab asks which kernel to use, as
# for a new notebook, and nothing is saved into notebooks/. Expectations come from the
# outputs stored in the lesson.
mkdir -p "$tmp/work"
name="$(basename "$lesson")"
"$venv/bin/python" - "$lesson" "$tmp/work/$name" "$tmp/expected.json" <<'PY'
import json, sys
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
code = [c for c in nb.cells if c.cell_type == "code"]
# Progress displays: paralelo's bar (HTML with a <progress> element, checked to end full) or
# a display of plain text updated in place (checked to end at its stored text).
progress = [
    (i, None if "paralelo-progress" in o["data"].get("text/html", "") else o["data"]["text/plain"])
    for i, c in enumerate(code) for o in c.outputs
    if o["output_type"] == "display_data"
    and ("text/html" not in o["data"] or "paralelo-progress" in o["data"]["text/html"])
]
expected = {
    "codeCells": len(code),
    "htmlTables": sum(
        "<table" in o.get("data", {}).get("text/html", "") for c in code for o in c.outputs
    ),
    "stderrOutputs": sum(
        o["output_type"] == "error" or o.get("name") == "stderr" for c in code for o in c.outputs
    ),
    "progress": [{"cell": i, "text": t} for i, t in progress],
    "svgPlots": sum(
        "image/svg+xml" in o.get("data", {}) for c in code for o in c.outputs
    ),
}
assert expected["htmlTables"] > 0 and expected["progress"], expected
nb.metadata.pop("kernelspec", None)
nb.metadata.pop("language_info", None)
for c in code:
    c.outputs = []
    c.execution_count = None
nbformat.write(nb, sys.argv[2])
json.dump(expected, open(sys.argv[3], "w"))
print("expected:", json.dumps(expected, ensure_ascii=False))
PY

cat > "$JUPYTER_CONFIG_DIR/jupyter_server_config.json" <<'EOF'
{ "LabApp": { "news_url": null,
              "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate" } }
EOF
port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
setsid "$venv/bin/jupyter" lab --no-browser --ip=127.0.0.1 --port="$port" \
    --ServerApp.port_retries=0 --IdentityProvider.token="$token" --allow-root \
    --ServerApp.root_dir="$tmp/work" > "$out/jupyterlab-server.log" 2>&1 &
server_pid=$!

for i in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/api/status?token=$token" > /dev/null 2>&1; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/jupyterlab-server.log"; echo "jupyterlab: the server died" >&2; exit 1; }
    [ "$i" -lt 120 ] || { cat "$out/jupyterlab-server.log"; echo "jupyterlab: the server did not answer in 60 s" >&2; exit 1; }
    sleep 0.5
done
echo "jupyterlab: serving on 127.0.0.1:$port"

NODE_PATH="$node_dir/node_modules" setsid timeout --kill-after=10 900 node "$here/jupyterlab.mjs" \
    "http://127.0.0.1:$port" "$token" "$name" "$tmp/expected.json" "$out" "$tmp/chromium-profile" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
driver_pid=""
if [ "$status" -ne 0 ]; then
    echo "--- server log (last 40 lines)" >&2
    tail -n 40 "$out/jupyterlab-server.log" >&2
    exit "$status"
fi
echo "jupyterlab: all passed"
