#!/usr/bin/env bash
# Stride interop client for Node.js (@grpc/grpc-js); see ../README.md.
# Installs what a fresh machine lacks (setup output on stderr), then runs the
# client, whose stdout is exactly the contract's lines.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node: installing nodejs and npm with apt-get" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >&2
fi

if [ ! -d node_modules ]; then
  echo "node: npm ci" >&2
  npm ci --silent --no-audit --no-fund >&2
fi

exec node client.js "$@"
