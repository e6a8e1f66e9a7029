#!/usr/bin/env bash
# Regenerates gen/ from proto/: gen/ts (protoc-gen-es), gen/grpc-js (ts-proto), gen/go
# (protoc-gen-go + connect-go) through `buf generate`, and gen/python through grpcio-tools.
# Every generator is pinned: npm devDependencies, Go plugin versions below, Python
# requirements in gen/python/requirements-dev.txt. Idempotent; CI runs it and fails on a diff.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:$PATH"

PROTOC_GEN_GO_VERSION=v1.36.10
CONNECT_GO_VERSION=v1.19.1

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

step "Go plugins (protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-connect-go $CONNECT_GO_VERSION)"
mkdir -p .tools/bin
stamp=".tools/bin/.versions"
want="$PROTOC_GEN_GO_VERSION $CONNECT_GO_VERSION"
if [ ! -x .tools/bin/protoc-gen-go ] || [ ! -x .tools/bin/protoc-gen-connect-go ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
  GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@$CONNECT_GO_VERSION"
  echo "$want" > "$stamp"
fi

step "Stage third-party protos from npm packages"
tp=.gen-cache/third_party
rm -rf "$tp"
mkdir -p "$tp/grpc/health/v1" "$tp/grpc/reflection/v1" "$tp/grpc/reflection/v1alpha" "$tp/google/rpc"
cp node_modules/grpc-health-check/proto/health/v1/health.proto "$tp/grpc/health/v1/"
cp node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto "$tp/grpc/reflection/v1/"
cp node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto "$tp/grpc/reflection/v1alpha/"
for f in status code error_details; do cp "node_modules/google-proto-files/google/rpc/$f.proto" "$tp/google/rpc/"; done

step "Clean gen/"
for d in gen/ts gen/grpc-js; do
  find "$d" -mindepth 1 -maxdepth 1 ! -name package.json ! -name README.md ! -name node_modules -exec rm -rf {} +
done
find gen/go -mindepth 1 -maxdepth 1 ! -name go.mod ! -name go.sum ! -name README.md -exec rm -rf {} +
rm -rf gen/python/src

step "buf lint"
buf lint
step "buf generate (TypeScript, grpc-js, Go)"
buf generate
buf generate "$tp" --template buf.gen.third-party.yaml

step "grpcio-tools (Python)"
py="${COVE_PYTHON:-$root/.venv/bin/python}"
mkdir -p gen/python/src
mapfile -t protos < <(cd proto && find cove -name '*.proto' | sort)
(cd proto && "$py" -m grpc_tools.protoc -I . \
  --python_out="$root/gen/python/src" --pyi_out="$root/gen/python/src" --grpc_python_out="$root/gen/python/src" \
  "${protos[@]}")
# Every folder becomes a regular package so the distribution is importable and type-checkable.
find gen/python/src/cove -type d -exec touch {}/__init__.py \;
echo "generated: $(find gen -type f \( -name '*.ts' -o -name '*.go' -o -name '*.py' \) | wc -l) files"
