#!/usr/bin/env bash
# The main job: builds GridPatrol (UI, sync server, desktop app), creates
# the demo district's server data on first run (accounts for all 1,547
# inspectors and leaders plus centre operator C0001), starts the sync
# server and opens the desktop app pointed at it. On a machine without a
# display it says so and runs the server alone.
#
#   bash scripts/run.sh                 # server on http://127.0.0.1:8787
#   GRIDPATROL_DATA=/tmp/gp LISTEN=127.0.0.1:9000 bash scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
DATA="${GRIDPATROL_DATA:-.gridpatrol/demo}"
LISTEN="${LISTEN:-127.0.0.1:8787}"

(cd ui && npm run build)
cargo build --release --locked -p gridpatrol-cli
cargo build --release --locked -p gridpatrol-app --features custom-protocol
BIN=target/release/gridpatrol
APP=target/release/gridpatrol-app

if [ ! -e "$DATA/.demo-ready" ]; then
  echo "run: creating demo server data in $DATA"
  "$BIN" init --demo --data "$DATA"
  touch "$DATA/.demo-ready"
fi

"$BIN" district stats
"$BIN" taxonomy stats
echo "run: sync server on http://$LISTEN (demo logins: I0001..I1547 and C0001, password patrol-<id>)"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display here, so the desktop app is not opened; the server runs alone."
  echo "     Load simulated field traffic from another shell with:"
  echo "     $BIN sim --server http://$LISTEN --inspectors 50 --cases 500 --faults 0.1 --json"
  exec "$BIN" serve --data "$DATA" --listen "$LISTEN"
fi

"$BIN" serve --data "$DATA" --listen "$LISTEN" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
echo "run: opening the app; sign in with server http://$LISTEN, e.g. I0002 / patrol-I0002"
GRIDPATROL_DATA_DIR="${GRIDPATROL_APP_DATA:-.gridpatrol/app}" "$APP"
