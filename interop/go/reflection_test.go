package interop

import (
	"errors"
	"io"
	"slices"
	"testing"

	sandboxv1 "cove.dev/gen/cove/sandbox/v1"
	"google.golang.org/grpc/codes"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// reflect sends requests on one grpc.reflection.v1 stream and returns every response.
func reflect(t *testing.T, requests ...*reflectionv1.ServerReflectionRequest) []*reflectionv1.ServerReflectionResponse {
	t.Helper()
	stream, err := reflectionv1.NewServerReflectionClient(dialGRPC(t)).ServerReflectionInfo(callContext(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	for _, req := range requests {
		if err := stream.Send(req); err != nil {
			t.Fatalf("reflection send: %v", err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatalf("reflection close send: %v", err)
	}
	var responses []*reflectionv1.ServerReflectionResponse
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reflection stream ended with %v", err)
		}
		responses = append(responses, res)
	}
	if len(responses) != len(requests) {
		t.Fatalf("got %d reflection responses to %d requests", len(responses), len(requests))
	}
	return responses
}

// wantServices are services every Cove server lists through reflection.
var wantServices = []string{
	sandboxServiceName,
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// checkListed asserts that listed names every service in wantServices.
func checkListed(t *testing.T, listed []string) {
	t.Helper()
	for _, want := range wantServices {
		if !slices.Contains(listed, want) {
			t.Errorf("listed services %v lack %s", listed, want)
		}
	}
}

func TestReflection(t *testing.T) {
	t.Run("v1 lists the Cove, health and reflection services", func(t *testing.T) {
		res := reflect(t, &reflectionv1.ServerReflectionRequest{
			MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{ListServices: "*"},
		})[0]
		var listed []string
		for _, s := range res.GetListServicesResponse().GetService() {
			listed = append(listed, s.GetName())
		}
		checkListed(t, listed)
	})

	t.Run("v1alpha lists the same services", func(t *testing.T) {
		client := reflectionv1alpha.NewServerReflectionClient(dialGRPC(t))
		stream, err := client.ServerReflectionInfo(callContext(t))
		if err != nil {
			t.Fatalf("ServerReflectionInfo: %v", err)
		}
		err = stream.Send(&reflectionv1alpha.ServerReflectionRequest{
			MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{ListServices: "*"},
		})
		if err != nil {
			t.Fatalf("reflection send: %v", err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatalf("reflection recv: %v", err)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatalf("reflection close send: %v", err)
		}
		var listed []string
		for _, s := range res.GetListServicesResponse().GetService() {
			listed = append(listed, s.GetName())
		}
		checkListed(t, listed)
	})

	t.Run("file_containing_symbol returns the service's file with every dependency", func(t *testing.T) {
		res := reflect(t, &reflectionv1.ServerReflectionRequest{
			MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
				FileContainingSymbol: sandboxServiceName,
			},
		})[0]
		if e := res.GetErrorResponse(); e != nil {
			t.Fatalf("error response: %v", e)
		}
		var files []*descriptorpb.FileDescriptorProto
		for _, raw := range res.GetFileDescriptorResponse().GetFileDescriptorProto() {
			file := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(raw, file); err != nil {
				t.Fatalf("unmarshalling a FileDescriptorProto: %v", err)
			}
			files = append(files, file)
		}
		if len(files) == 0 {
			t.Fatal("no file descriptors in the response")
		}
		if got := files[0].GetName(); got != "cove/sandbox/v1/sandbox_service.proto" {
			t.Errorf("first file = %q, want cove/sandbox/v1/sandbox_service.proto", got)
		}
		for _, dep := range []string{"cove/sandbox/v1/sandbox.proto", "google/protobuf/timestamp.proto"} {
			if !slices.ContainsFunc(files, func(f *descriptorpb.FileDescriptorProto) bool { return f.GetName() == dep }) {
				t.Errorf("response lacks dependency %s", dep)
			}
		}

		// A reflection client (grpcurl, buf curl) must be able to link what it got into a
		// working schema: every import present, the service and its streaming shape intact.
		registry, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: files})
		if err != nil {
			t.Fatalf("linking the reflected files: %v", err)
		}
		desc, err := registry.FindDescriptorByName(sandboxServiceName)
		if err != nil {
			t.Fatalf("reflected files do not define %s: %v", sandboxServiceName, err)
		}
		reflected := protodesc.ToFileDescriptorProto(desc.ParentFile())
		compiled := protodesc.ToFileDescriptorProto(sandboxv1.File_cove_sandbox_v1_sandbox_service_proto)
		if !proto.Equal(reflected, compiled) {
			t.Errorf("reflected sandbox_service.proto differs from the one compiled into gen/go")
		}
	})

	t.Run("an unknown symbol is an error response with NOT_FOUND, not a broken stream", func(t *testing.T) {
		res := reflect(t, &reflectionv1.ServerReflectionRequest{
			MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
				FileContainingSymbol: "cove.nothing.v1.Nothing",
			},
		})[0]
		if got := codes.Code(res.GetErrorResponse().GetErrorCode()); got != codes.NotFound {
			t.Errorf("error_response code = %v (response %v), want NotFound", got, res)
		}
	})
}
