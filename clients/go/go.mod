module cove.dev/sdk

go 1.24.0

require (
	connectrpc.com/connect v1.19.1
	cove.dev/gen v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20251202230838-ff82c1b0f217
	google.golang.org/protobuf v1.36.10
)

replace cove.dev/gen => ../../gen/go
