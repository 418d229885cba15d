#!/usr/bin/env bash
# Regenerates the Go code of the runtime driver protocol from
# plugins/proto/driver/v1/driver.proto and driver/v2/observe.proto. The generated files are committed;
# run this after editing the .proto and commit both.
#
# Tools (versions pinned to match go.mod's google.golang.org/protobuf):
#   protoc               Debian's package: apt-get install protobuf-compiler
#                        (ships the google/protobuf/*.proto well-known types)
#   protoc-gen-go        go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   protoc-gen-go-grpc   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
set -euo pipefail
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
	command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found (see the header of $0)" >&2; exit 1; }
done
protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	driver/v1/driver.proto driver/v2/observe.proto
