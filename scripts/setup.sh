#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for building, running and
# testing GridPatrol (server, desktop app, UI and the end-to-end test).
# Idempotent: installs only what is missing. Needs root (or sudo) for Debian
# packages; Rust (with clippy and rustfmt) and Node 20 are assumed, Node is
# installed from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# - build-essential, pkg-config: bundled SQLite, -sys crates; `time`: bench peak memory
# - WebKitGTK and friends: the Tauri desktop app (Linux)
# - webkit2gtk-driver, xvfb: the end-to-end test drives the real app under Xvfb
# - fonts-noto-cjk: without a CJK font Chinese renders as boxes
# - imagemagick: screenshots are checked (contrast) and shown
DEB_PACKAGES=(build-essential pkg-config time
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
  webkit2gtk-driver xvfb xauth fonts-noto-cjk imagemagick)
command -v node >/dev/null 2>&1 || DEB_PACKAGES+=(nodejs npm)

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

# The WebDriver bridge for Tauri apps (end-to-end test).
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: cargo install tauri-driver"
  cargo install tauri-driver --version 2.0.6 --locked
fi

# The UI's packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: npm ci (ui)"
  (cd ui && npm ci --no-audit --no-fund)
fi
