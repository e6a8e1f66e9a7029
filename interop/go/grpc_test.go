package interop

import (
	"errors"
	"io"
	"strings"
	"testing"

	sandboxv1 "cove.dev/gen/cove/sandbox/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Cove method paths, called through grpc-go's generic Invoke/NewStream with the generated
// messages (gen/go has no grpc-go stubs).
const (
	getSandboxMethod   = "/cove.sandbox.v1.SandboxService/GetSandbox"
	watchSandboxMethod = "/cove.sandbox.v1.SandboxService/WatchSandbox"
)

// dialGRPC returns a grpc-go connection to the fixture without TLS, closed when the test ends.
func dialGRPC(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(grpcTarget(t), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// wantStatus asserts that err is a gRPC status with the given code and returns it.
func wantStatus(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || err == nil {
		t.Fatalf("error = %v, want a gRPC status with code %v", err, want)
	}
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

func TestGRPCGoHealth(t *testing.T) {
	health := grpc_health_v1.NewHealthClient(dialGRPC(t))

	t.Run("Check", func(t *testing.T) {
		for _, service := range []string{"", sandboxServiceName} {
			res, err := health.Check(callContext(t), &grpc_health_v1.HealthCheckRequest{Service: service})
			if err != nil {
				t.Fatalf("Check(%q): %v", service, err)
			}
			if got := res.GetStatus(); got != grpc_health_v1.HealthCheckResponse_SERVING {
				t.Errorf("Check(%q) = %v, want SERVING", service, got)
			}
		}
	})

	t.Run("Check of an unknown service is NOT_FOUND", func(t *testing.T) {
		_, err := health.Check(callContext(t), &grpc_health_v1.HealthCheckRequest{Service: "no.such.Service"})
		wantStatus(t, err, codes.NotFound)
	})

	t.Run("Watch starts with the current status", func(t *testing.T) {
		stream, err := health.Watch(callContext(t), &grpc_health_v1.HealthCheckRequest{Service: sandboxServiceName})
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatalf("Watch Recv: %v", err)
		}
		if got := res.GetStatus(); got != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("first Watch status = %v, want SERVING", got)
		}
	})

	t.Run("List names every service", func(t *testing.T) {
		res, err := health.List(callContext(t), &grpc_health_v1.HealthListRequest{})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, service := range []string{"", sandboxServiceName} {
			if got := res.GetStatuses()[service].GetStatus(); got != grpc_health_v1.HealthCheckResponse_SERVING {
				t.Errorf("List[%q] = %v, want SERVING", service, got)
			}
		}
	})
}

func TestGRPCGoSandboxService(t *testing.T) {
	conn := dialGRPC(t)

	t.Run("GetSandbox decodes into the generated messages", func(t *testing.T) {
		res := &sandboxv1.GetSandboxResponse{}
		err := conn.Invoke(callContext(t), getSandboxMethod, &sandboxv1.GetSandboxRequest{SandboxId: "sbx-grpc-go"}, res)
		if err != nil {
			t.Fatalf("GetSandbox: %v", err)
		}
		checkSandbox(t, res.GetSandbox(), "sbx-grpc-go")
	})

	t.Run("a missing sandbox is NOT_FOUND with a google.rpc.ErrorInfo in the status details", func(t *testing.T) {
		err := conn.Invoke(callContext(t), getSandboxMethod,
			&sandboxv1.GetSandboxRequest{SandboxId: missingSandboxID}, &sandboxv1.GetSandboxResponse{})
		st := wantStatus(t, err, codes.NotFound)
		var info *errdetails.ErrorInfo
		for _, detail := range st.Details() {
			switch d := detail.(type) {
			case *errdetails.ErrorInfo:
				info = d
			case error:
				t.Errorf("undecodable status detail: %v", d)
			}
		}
		checkNotFoundInfo(t, info)
	})

	t.Run("WatchSandbox arrives complete and in order", func(t *testing.T) {
		desc := &grpc.StreamDesc{StreamName: "WatchSandbox", ServerStreams: true}
		stream, err := conn.NewStream(callContext(t), desc, watchSandboxMethod)
		if err != nil {
			t.Fatalf("WatchSandbox: %v", err)
		}
		if err := stream.SendMsg(&sandboxv1.WatchSandboxRequest{SandboxId: "sbx-watch"}); err != nil {
			t.Fatalf("WatchSandbox send: %v", err)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatalf("WatchSandbox close send: %v", err)
		}
		var got []watchedState
		for {
			res := &sandboxv1.WatchSandboxResponse{}
			err := stream.RecvMsg(res)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("WatchSandbox stream ended with %v", err)
			}
			got = append(got, collectWatch(t, res, "sbx-watch"))
		}
		checkWatched(t, got)
	})

	t.Run("an unknown method is UNIMPLEMENTED with the path in the message", func(t *testing.T) {
		err := conn.Invoke(callContext(t), unknownMethod, &emptypb.Empty{}, &emptypb.Empty{})
		st := wantStatus(t, err, codes.Unimplemented)
		if !strings.Contains(st.Message(), unknownMethod) {
			t.Errorf("message = %q, want it to name %s", st.Message(), unknownMethod)
		}
	})
}
