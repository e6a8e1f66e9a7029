package interop

import (
	"slices"
	"testing"
	"time"

	sandboxv1 "cove.dev/gen/cove/sandbox/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// What interop/fixture/server.ts answers, as a Go user of the generated code sees it.
const (
	// missingSandboxID is the id for which GetSandbox answers NotFound with an ErrorInfo.
	missingSandboxID = "sbx-missing"
	// sandboxServiceName is the fully qualified name of the Cove service under test.
	sandboxServiceName = "cove.sandbox.v1.SandboxService"
	// unknownMethod is a method path no Cove server serves.
	unknownMethod = "/cove.nothing.v1.NothingService/DoNothing"
	utf8Label     = "žluťoučký kůň ✓"
)

// wantCreateTime is the create_time of every fixture sandbox.
var wantCreateTime = time.Date(2026, time.January, 2, 3, 4, 5, 678_000_000, time.UTC)

// wantWatchedStates are the states WatchSandbox reports, in order.
var wantWatchedStates = []sandboxv1.SandboxState{
	sandboxv1.SandboxState_SANDBOX_STATE_CREATING,
	sandboxv1.SandboxState_SANDBOX_STATE_STARTING,
	sandboxv1.SandboxState_SANDBOX_STATE_STARTED,
}

// checkSandbox asserts that sb is the fixture's STARTED sandbox with the given id.
func checkSandbox(t *testing.T, sb *sandboxv1.Sandbox, wantID string) {
	t.Helper()
	if sb == nil {
		t.Fatal("response has no sandbox")
	}
	if got := sb.GetSandboxId(); got != wantID {
		t.Errorf("sandbox_id = %q, want %q", got, wantID)
	}
	if got := sb.GetState(); got != sandboxv1.SandboxState_SANDBOX_STATE_STARTED {
		t.Errorf("state = %v, want SANDBOX_STATE_STARTED", got)
	}
	if got := sb.GetLabels()["utf8-label"]; got != utf8Label {
		t.Errorf("labels[utf8-label] = %q, want %q", got, utf8Label)
	}
	if got := sb.GetLabels()["suite"]; got != "interop" {
		t.Errorf("labels[suite] = %q, want %q", got, "interop")
	}
	res := sb.GetResources()
	if res.GetCpuMillicores() != 1000 || res.GetMemoryMib() != 1024 || res.GetDiskMib() != 3072 {
		t.Errorf("resources = %v, want cpu 1000m, memory 1024 MiB, disk 3072 MiB", res)
	}
	if sb.GetCreateTime() == nil {
		t.Fatal("create_time is not set")
	}
	if got := sb.GetCreateTime().AsTime(); !got.Equal(wantCreateTime) {
		t.Errorf("create_time = %v, want %v", got, wantCreateTime)
	}
}

// checkNotFoundInfo asserts that info is the ErrorInfo the fixture attaches for missingSandboxID.
func checkNotFoundInfo(t *testing.T, info *errdetails.ErrorInfo) {
	t.Helper()
	if info == nil {
		t.Fatal("error carries no google.rpc.ErrorInfo detail")
	}
	if info.GetReason() != "SANDBOX_NOT_FOUND" || info.GetDomain() != "cove.dev" {
		t.Errorf("ErrorInfo reason/domain = %q/%q, want SANDBOX_NOT_FOUND/cove.dev", info.GetReason(), info.GetDomain())
	}
	if got := info.GetMetadata()["sandbox_id"]; got != missingSandboxID {
		t.Errorf("ErrorInfo metadata[sandbox_id] = %q, want %q", got, missingSandboxID)
	}
}

// watchedState is one WatchSandbox event reduced to what a user of the stream acts on.
type watchedState struct {
	state, previous sandboxv1.SandboxState
}

// collectWatch reduces WatchSandbox responses to their states and checks each names sandboxID.
func collectWatch(t *testing.T, res *sandboxv1.WatchSandboxResponse, sandboxID string) watchedState {
	t.Helper()
	var sb *sandboxv1.Sandbox
	var w watchedState
	switch ev := res.GetEvent().(type) {
	case *sandboxv1.WatchSandboxResponse_Initial:
		sb = ev.Initial
	case *sandboxv1.WatchSandboxResponse_StateChange_:
		sb = ev.StateChange.GetSandbox()
		w.previous = ev.StateChange.GetPreviousState()
	default:
		t.Fatalf("unexpected WatchSandbox event %T", ev)
	}
	if sb.GetSandboxId() != sandboxID {
		t.Errorf("watched sandbox_id = %q, want %q", sb.GetSandboxId(), sandboxID)
	}
	w.state = sb.GetState()
	return w
}

// checkWatched asserts the whole WatchSandbox stream: an initial CREATING, then each change
// naming the state it left.
func checkWatched(t *testing.T, got []watchedState) {
	t.Helper()
	want := []watchedState{
		{state: wantWatchedStates[0]},
		{state: wantWatchedStates[1], previous: wantWatchedStates[0]},
		{state: wantWatchedStates[2], previous: wantWatchedStates[1]},
	}
	if !slices.Equal(got, want) {
		t.Errorf("WatchSandbox events (state, previous_state) = %v, want %v", got, want)
	}
}
