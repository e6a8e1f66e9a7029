package interop

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	sandboxv1 "cove.dev/gen/cove/sandbox/v1"
	"cove.dev/gen/cove/sandbox/v1/sandboxv1connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// protocol is one way connect-go reaches the fixture: an HTTP version and a wire protocol.
type protocol struct {
	name  string
	http2 bool
	opts  []connect.ClientOption
}

// protocols are the wire protocols a Cove server answers on one port, as connect-go speaks them.
var protocols = []protocol{
	{name: "gRPC over HTTP/2", http2: true, opts: []connect.ClientOption{connect.WithGRPC()}},
	{name: "Connect over HTTP/2", http2: true},
	{name: "Connect over HTTP/1.1"},
	{name: "gRPC-Web over HTTP/1.1", opts: []connect.ClientOption{connect.WithGRPCWeb()}},
}

// httpClient returns a client that speaks only the protocol's HTTP version in cleartext
// (HTTP/2 with prior knowledge, h2c, or HTTP/1.1), closed when the test ends.
func (p protocol) httpClient(t *testing.T) *http.Client {
	t.Helper()
	var versions http.Protocols
	if p.http2 {
		versions.SetUnencryptedHTTP2(true)
	} else {
		versions.SetHTTP1(true)
	}
	transport := &http.Transport{Protocols: &versions}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport}
}

// sandboxClient returns a generated SandboxService client speaking the protocol.
func (p protocol) sandboxClient(t *testing.T) sandboxv1connect.SandboxServiceClient {
	t.Helper()
	return sandboxv1connect.NewSandboxServiceClient(p.httpClient(t), baseURL, p.opts...)
}

// asConnectError asserts that err is a *connect.Error with the given code.
func asConnectError(t *testing.T, err error, want connect.Code) *connect.Error {
	t.Helper()
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) {
		t.Fatalf("error = %v, want a *connect.Error with code %v", err, want)
	}
	if connectErr.Code() != want {
		t.Fatalf("code = %v (%v), want %v", connectErr.Code(), connectErr, want)
	}
	return connectErr
}

func TestConnectGo(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Run("GetSandbox round-trips labels, enums, nested messages and timestamps", func(t *testing.T) {
				res, err := p.sandboxClient(t).GetSandbox(callContext(t),
					connect.NewRequest(&sandboxv1.GetSandboxRequest{SandboxId: "sbx-go"}))
				if err != nil {
					t.Fatalf("GetSandbox: %v", err)
				}
				checkSandbox(t, res.Msg.GetSandbox(), "sbx-go")
			})

			t.Run("a missing sandbox is NotFound with a google.rpc.ErrorInfo", func(t *testing.T) {
				_, err := p.sandboxClient(t).GetSandbox(callContext(t),
					connect.NewRequest(&sandboxv1.GetSandboxRequest{SandboxId: missingSandboxID}))
				connectErr := asConnectError(t, err, connect.CodeNotFound)
				var info *errdetails.ErrorInfo
				for _, detail := range connectErr.Details() {
					value, err := detail.Value()
					if err != nil {
						t.Fatalf("decoding detail %s: %v", detail.Type(), err)
					}
					if v, ok := value.(*errdetails.ErrorInfo); ok {
						info = v
					}
				}
				checkNotFoundInfo(t, info)
			})

			t.Run("WatchSandbox delivers every state in order", func(t *testing.T) {
				stream, err := p.sandboxClient(t).WatchSandbox(callContext(t),
					connect.NewRequest(&sandboxv1.WatchSandboxRequest{SandboxId: "sbx-watch"}))
				if err != nil {
					t.Fatalf("WatchSandbox: %v", err)
				}
				defer stream.Close()
				var got []watchedState
				for stream.Receive() {
					got = append(got, collectWatch(t, stream.Msg(), "sbx-watch"))
				}
				if err := stream.Err(); err != nil {
					t.Fatalf("WatchSandbox stream ended with %v", err)
				}
				checkWatched(t, got)
			})

			t.Run("a Cove method the server does not implement is Unimplemented", func(t *testing.T) {
				_, err := p.sandboxClient(t).DeleteSandbox(callContext(t),
					connect.NewRequest(&sandboxv1.DeleteSandboxRequest{SandboxId: "sbx-go"}))
				asConnectError(t, err, connect.CodeUnimplemented)
			})

			t.Run("a method no service knows is Unimplemented and named in the message", func(t *testing.T) {
				client := connect.NewClient[emptypb.Empty, emptypb.Empty](
					p.httpClient(t), baseURL+unknownMethod, p.opts...)
				_, err := client.CallUnary(callContext(t), connect.NewRequest(&emptypb.Empty{}))
				connectErr := asConnectError(t, err, connect.CodeUnimplemented)
				if !strings.Contains(connectErr.Message(), unknownMethod) {
					t.Errorf("message = %q, want it to name %s", connectErr.Message(), unknownMethod)
				}
			})

			t.Run("health Check reports the server and the Cove service as SERVING", func(t *testing.T) {
				check := connect.NewClient[grpc_health_v1.HealthCheckRequest, grpc_health_v1.HealthCheckResponse](
					p.httpClient(t), baseURL+grpc_health_v1.Health_Check_FullMethodName, p.opts...)
				for _, service := range []string{"", sandboxServiceName} {
					res, err := check.CallUnary(callContext(t),
						connect.NewRequest(&grpc_health_v1.HealthCheckRequest{Service: service}))
					if err != nil {
						t.Fatalf("Check(%q): %v", service, err)
					}
					if got := res.Msg.GetStatus(); got != grpc_health_v1.HealthCheckResponse_SERVING {
						t.Errorf("Check(%q) = %v, want SERVING", service, got)
					}
				}
			})
		})
	}
}
