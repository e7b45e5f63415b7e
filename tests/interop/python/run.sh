#!/usr/bin/env bash
# grpc-python client: installs grpcio and grpcio-tools when missing,
# generates stubs from proto/ into a temporary folder, runs client.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
if ! python3 -c 'import grpc, grpc_tools' 2>/dev/null; then
  echo "installing grpcio grpcio-tools (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check grpcio grpcio-tools >&2
fi
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
python3 -m grpc_tools.protoc -I"$root/proto" --python_out="$gen" --grpc_python_out="$gen" \
  $(cd "$root/proto" && find . -name '*.proto' | sed 's|^\./||')
# Each package folder needs no __init__.py on Python 3 (namespace packages).
PYTHONPATH="$gen" PYTHONDONTWRITEBYTECODE=1 exec python3 "$here/client.py" "$@"
