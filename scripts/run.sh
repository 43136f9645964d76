#!/usr/bin/env bash
# The main job: builds GridPatrol, creates the demo district's server data
# (accounts for all 1,547 inspectors and leaders plus centre operator C0001)
# on first run, and runs the sync server on it in the foreground.
#
#   bash scripts/run.sh                 # http://127.0.0.1:8787
#   GRIDPATROL_DATA=/tmp/gp LISTEN=127.0.0.1:9000 bash scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
DATA="${GRIDPATROL_DATA:-.gridpatrol/demo}"
LISTEN="${LISTEN:-127.0.0.1:8787}"

cargo build --release --locked -p gridpatrol-cli
BIN=target/release/gridpatrol

if [ ! -e "$DATA/.demo-ready" ]; then
  echo "run: creating demo server data in $DATA"
  "$BIN" init --demo --data "$DATA"
  touch "$DATA/.demo-ready"
fi

"$BIN" district stats
"$BIN" taxonomy stats
echo "run: sync server on http://$LISTEN (demo logins: I0001..I1547 and C0001, password patrol-<id>)"
echo "run: load simulated field traffic from another shell with:"
echo "     $BIN sim --server http://$LISTEN --inspectors 50 --cases 500 --faults 0.1 --json"
exec "$BIN" serve --data "$DATA" --listen "$LISTEN"
