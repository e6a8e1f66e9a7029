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

step "buf lint"
buf lint

# Generate into a staging folder, then sync into gen/: files that did not change are not
# touched, so tests running meanwhile never see a half-written gen/.
out=.gen-cache/out
rm -rf "$out"
mkdir -p "$out/gen/python/src"

step "buf generate (TypeScript, grpc-js, Go)"
buf generate -o "$out"
buf generate "$tp" --template buf.gen.third-party.yaml -o "$out"

step "grpcio-tools (Python)"
py="${COVE_PYTHON:-$root/.venv/bin/python}"
mapfile -t protos < <(cd proto && find cove -name '*.proto' | sort)
(cd proto && "$py" -m grpc_tools.protoc -I . \
  --python_out="$root/$out/gen/python/src" --pyi_out="$root/$out/gen/python/src" \
  --grpc_python_out="$root/$out/gen/python/src" "${protos[@]}")
# Every folder becomes a regular package so the distribution is importable and type-checkable.
find "$out/gen/python/src/cove" -type d -exec touch {}/__init__.py \;

step "Sync gen/"
# Hand-written files in gen/ (package manifests) are kept; generated ones mirror the staging copy.
keep='^(gen/(ts|grpc-js)/package\.json|gen/go/go\.(mod|sum)|gen/python/pyproject\.toml|gen/[^/]+/README\.md)$'
changed=0
while IFS= read -r -d '' file; do
  rel=${file#"$out"/}
  if ! cmp -s "$file" "$rel"; then
    mkdir -p "$(dirname "$rel")"
    cp "$file" "$rel"
    changed=$((changed + 1))
  fi
done < <(find "$out/gen" -type f -print0)
while IFS= read -r -d '' file; do
  [[ $file =~ $keep ]] && continue
  if [ ! -e "$out/$file" ]; then
    rm -f "$file"
    changed=$((changed + 1))
  fi
done < <(find gen -type f ! -path '*/node_modules/*' ! -path '*.egg-info/*' ! -path '*/__pycache__/*' -print0)
find gen -type d -empty -delete
echo "generated: $(find "$out/gen" -type f | wc -l) files, $changed changed"
