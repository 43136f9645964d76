#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for building and testing
# GridPatrol. Idempotent: installs only what is missing. Needs root (or sudo)
# for Debian packages; Rust (with clippy and rustfmt) and Node 20 are assumed.
set -euo pipefail

# Debian packages: a C toolchain for bundled SQLite, pkg-config for -sys
# crates, and `time` for the benchmark scripts' peak-memory figures.
DEB_PACKAGES=(build-essential pkg-config time)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

for c in clippy rustfmt; do
  if ! cargo "$c" --version >/dev/null 2>&1; then
    rustup component add "$c"
  fi
done
