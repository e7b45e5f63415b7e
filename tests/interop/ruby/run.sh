#!/usr/bin/env bash
# Ruby interop client: installs Debian's ruby-grpc and ruby-grpc-tools when
# missing, generates the stubs from proto/ into .build/ (ignored by git),
# then runs client.rb with the contract's variables (../README.md).
# Setup talk goes to stderr; stdout carries only the client's lines.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

have_grpc() {
  command -v ruby >/dev/null 2>&1 && ruby -e 'require "grpc"' >/dev/null 2>&1 &&
    command -v grpc_tools_ruby_protoc >/dev/null 2>&1
}

if ! have_grpc; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "ruby: installing ruby-grpc ruby-grpc-tools (apt-get)" >&2
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby-grpc ruby-grpc-tools >&2
  have_grpc || { echo "ruby: grpc for Ruby still missing after apt-get install" >&2; exit 1; }
fi

build="$here/.build"
rm -rf "$build"
mkdir -p "$build"
mapfile -t protos < <(cd "$root/proto" && find . -name '*.proto' | sort)
(cd "$root/proto" && grpc_tools_ruby_protoc -I . --ruby_out="$build" --grpc_out="$build" "${protos[@]}") >&2

exec ruby -I "$build" "$here/client.rb"
