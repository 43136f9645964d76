#!/usr/bin/env bash
# Runs every check and test of GridPatrol: the UI's unit tests, type check
# and build; formatting, lints and the whole Rust workspace's tests; then
# the end-to-end test on the real desktop app. This is the README's test
# command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== ui: unit tests, type check, build"
(cd ui && npm test && npm run check && npm run build)

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== end-to-end (the real app under Xvfb)"
bash tests/e2e/run
