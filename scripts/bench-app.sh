#!/usr/bin/env bash
# The app's performance figures, measured in the real app: the release
# desktop build under Xvfb, driven by tauri-driver + WebKitWebDriver, against
# a real `gridpatrol serve` on a free loopback port, with a device store
# seeded with an inspector's case history (crates/device/examples/seed_cases.rs).
# Prints every figure with its baseline (tests/e2e/bench.mjs) and the release
# binary's size; keeps the JSON under target/bench-app/. Not part of CI.
#
#   bash scripts/bench-app.sh            # 10,000 cases, 5 cold starts, 5 saves
#   BENCH_CASES=2000 BENCH_COLD_RUNS=3 BENCH_SAVE_RUNS=3 bash scripts/bench-app.sh
#   BENCH_COMPARE_APP=target/bench-app/gridpatrol-app.before bash scripts/bench-app.sh   # before/after
#
# Bounded: every step runs under `timeout` (the whole run stays under ~45 min
# even with builds up to date; BENCH_NO_BUILD=1 skips the cargo/npm steps).
# Stops everything it started and deletes its temporary directory on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CASES=${BENCH_CASES:-10000}
COLD_RUNS=${BENCH_COLD_RUNS:-5}
SAVE_RUNS=${BENCH_SAVE_RUNS:-5}
INSPECTOR=${BENCH_INSPECTOR:-I0002}

for tool in tauri-driver WebKitWebDriver Xvfb node python3 convert curl timeout strip; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run scripts/setup.sh)"; exit 1; }
done

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  [ -f ui/dist/index.html ] && [ -z "$(find ui/src ui/index.html -newer ui/dist/index.html -print -quit)" ] \
    || (cd ui && timeout 600 npm run build)
  timeout 2400 cargo build --release --locked -p gridpatrol-cli -p gridpatrol-app --features gridpatrol-app/custom-protocol
  timeout 1200 cargo build --release --locked -p gridpatrol-device --example seed_cases
fi
BIN=$ROOT/target/release/gridpatrol
APP=$ROOT/target/release/gridpatrol-app
SEED=$ROOT/target/release/examples/seed_cases
for f in "$BIN" "$APP" "$SEED"; do [ -x "$f" ] || { echo "bench: $f is not built"; exit 1; }; done

WORK=$(mktemp -d /tmp/gridpatrol-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
DRIVER_PORT=$(free_port)
NATIVE_PORT=$(free_port)

echo "bench: machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: server data"
timeout 300 "$BIN" init --demo --data "$WORK/server" >/dev/null
"$BIN" serve --data "$WORK/server" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "bench: server did not start"; cat "$WORK/server.log"; exit 1; }

# The desktop stand-in for the GPS: a fix inside the inspector's grid.
timeout 120 "$BIN" district whois "$INSPECTOR" >"$WORK/whois.json"
python3 - "$WORK/whois.json" "$WORK/fix.json" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
lon, lat = w["point"]
json.dump({"lon": lon, "lat": lat, "accuracy_m": 8.0, "mock": False}, open(sys.argv[2], "w"))
PY

echo "bench: seeding $CASES cases for $INSPECTOR (signed in, saved through the Device facade, synced)"
timeout 1200 "$SEED" --server "http://127.0.0.1:$PORT" --user "$INSPECTOR" --data "$WORK/app" --cases "$CASES" \
  | tee "$WORK/seed.json"

# A display of its own (-displayfd picks a free number), and the driver.
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$WORK/display" >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/display" ] && break; sleep 0.1; done
export DISPLAY=:$(head -1 "$WORK/display")
GRIDPATROL_DATA_DIR="$WORK/app" GRIDPATROL_POSITION_FILE="$WORK/fix.json" \
  tauri-driver --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" --native-driver "$(command -v WebKitWebDriver)" \
  >"$WORK/driver.log" 2>&1 &
DRIVER_PID=$!
PIDS+=($DRIVER_PID)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null 2>&1 && break
  sleep 0.1
done

# A camera photo stand-in: 12 MP (4000×3000), as in the end-to-end test.
timeout 300 convert -size 4000x3000 plasma:fractal -quality 88 "$WORK/photo.jpg"

mkdir -p "$ROOT/target/bench-app"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/target/bench-app/result-$STAMP.json
rc=0
bench() { # APP OUT SECTIONS
  DRIVER="http://127.0.0.1:$DRIVER_PORT" DRIVER_PID="$DRIVER_PID" APP="$1" OUT="$2" SECTIONS="$3" \
    PHOTO="$WORK/photo.jpg" QUERIES="$ROOT/data/search-relevance.tsv" COLD_RUNS="$COLD_RUNS" \
    SAVE_RUNS="$SAVE_RUNS" EXPECT_CASES="$CASES" timeout 1800 node tests/e2e/bench.mjs
}
# Before/after a UI change in the same run: BENCH_COMPARE_APP names the
# other build (e.g. a copy of the binary before the change); it runs first,
# on the same server and store, for BENCH_COMPARE_SECTIONS.
if [ -n "${BENCH_COMPARE_APP:-}" ]; then
  bench "$BENCH_COMPARE_APP" "$ROOT/target/bench-app/compare-$STAMP.json" "${BENCH_COMPARE_SECTIONS:-search,scroll}" || rc=$?
fi
bench "$APP" "$OUT" "${BENCH_SECTIONS:-cold,search,scroll,save}" || rc=$?
if [ "$rc" != 0 ]; then
  echo "bench: FAILED ($rc); driver log:"; tail -30 "$WORK/driver.log"; echo "server log:"; tail -10 "$WORK/server.log"
fi

echo "== release binary"
strip -o "$WORK/app-stripped" "$APP"
echo "gridpatrol-app: $(stat -c %s "$APP") bytes as built (debug = 1: line tables), $(stat -c %s "$WORK/app-stripped") bytes stripped"
size -A "$WORK/app-stripped" | awk 'NR > 2 && $2 > 1000000 { printf "  section %-20s %10d\n", $1, $2 }'
echo "largest contributors by symbol size (nm -S -C, grouped by the first path segment):"
timeout 300 python3 - "$APP" 16 <<'PY'
import re, subprocess, sys, collections
out = subprocess.run(["nm", "-S", "-C", "--defined-only", sys.argv[1]], capture_output=True, text=True).stdout
by = collections.Counter(); total = 0
for line in out.splitlines():
    parts = line.split(" ", 3)
    if len(parts) < 4 or parts[2] not in "tTrRdDbB" : continue
    if parts[2] in "bB": continue
    size = int(parts[1], 16); name = parts[3]; total += size
    n = name.lstrip("<&*(").replace("dyn ", "")
    n = re.sub(r"^_?<", "", n)
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", n)
    if m: crate = m.group(1)
    elif name.startswith("sqlite"): crate = "[sqlite3 C]"
    elif name.startswith("aws_lc") or re.match(r"(ecp_nistz|p521_|p384_|p256_|x25519|ec_GFp)", name): crate = "[aws-lc C crypto]"
    elif name.startswith("anon."): crate = "[anonymous constants]"
    else: crate = "[other: C, std impls, anon]"
    by[crate] += size
print(f"symbols total {total/1e6:.2f} MB (text+rodata+data with symbol sizes)")
for c, s in by.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 20):
    print(f"  {c:32s} {s/1e6:7.2f} MB {100*s/total:5.1f} %")
PY
echo "bench: load at the end $(cut -d' ' -f1-3 /proc/loadavg); results: $OUT"
exit "$rc"
