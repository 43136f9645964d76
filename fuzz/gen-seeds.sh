#!/usr/bin/env bash
# Generates the fuzz corpus seeds (17 files, ~16 KB) into fuzz/corpus/decode.
# Seeds are never committed; see crates/media/FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p gridpatrol-media --example fuzz_seeds -- fuzz/corpus/decode
