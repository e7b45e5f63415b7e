#!/usr/bin/env bash
# Go client of the interop suite (contract: ../README.md).
#
# grpc-go as Debian ships it, built offline in GOPATH mode against
# /usr/share/gocode: installs the Debian packages when missing, generates the
# EventService stubs from proto/ into .build/ (never committed), builds and
# runs the client. Only the client writes to stdout; setup goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$here/.build
gocode=/usr/share/gocode

exec 3>&1 1>&2 # keep fd 3 as the real stdout for the client

missing=()
command -v go >/dev/null || missing+=(golang-go)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/timestamp.proto ] || missing+=(libprotobuf-dev)
command -v protoc-gen-go >/dev/null || missing+=(golang-goprotobuf-dev)
[ -d "$gocode/src/github.com/golang/protobuf/proto" ] || missing+=(golang-goprotobuf-dev)
command -v protoc-gen-go-grpc >/dev/null || missing+=(protoc-gen-go-grpc)
[ -d "$gocode/src/google.golang.org/grpc" ] || missing+=(golang-google-grpc-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "go client: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's golang-goprotobuf-dev is github.com/golang/protobuf 1.3.5 (the
# only protobuf runtime its grpc-go is built against here); its protoc-gen-go
# predates proto3 `optional` and refuses the whole file. `optional` only adds
# field presence, the wire format is the same, and the client never touches
# those fields, so a copy without the keyword is what gets compiled.
proto_in=$build/proto
gopath=$build/gopath
rm -rf "$proto_in" "$gopath"
mkdir -p "$proto_in/stride/events/v1" "$gopath/src" "$build/bin"
sed -E 's/^([[:space:]]*)optional[[:space:]]+/\1/' \
  "$root/proto/stride/events/v1/events.proto" >"$proto_in/stride/events/v1/events.proto"

# The .proto files have no go_package: map the file and the well-known types
# it imports to import paths here. protoc-gen-go 1.3 takes the package name
# from import_path=, protoc-gen-go-grpc from the `;name` suffix.
src=stride/events/v1/events.proto
wkt="Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp"
wkt+=",Mgoogle/protobuf/struct.proto=github.com/golang/protobuf/ptypes/struct"
protoc -I"$proto_in" -I/usr/include \
  --go_out="$gopath/src" --go_opt="paths=source_relative,import_path=eventsv1,M$src=stride/events/v1,$wkt" \
  --go-grpc_out="$gopath/src" --go-grpc_opt="paths=source_relative,M$src=stride/events/v1;eventsv1,$wkt" \
  "$src"

export GO111MODULE=off GOFLAGS= GOPROXY=off
export GOPATH=$gopath:$gocode GOCACHE=$build/gocache
(cd "$here" && go build -o "$build/bin/stride-interop" .)

exec "$build/bin/stride-interop" 1>&3 3>&-
