package cove_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"cove.dev/sdk"
)

func TestExecOptions(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)

	t.Run("cwd, env and stdin reach the command", func(t *testing.T) {
		res, err := sandbox.Exec(ctx, `pwd; echo "$GREETING"; cat`, cove.ExecOptions{
			Cwd:   "/tmp",
			Env:   map[string]string{"GREETING": "héllo wörld"},
			Stdin: []byte("from stdin\n"),
		})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		if want := "/tmp\nhéllo wörld\nfrom stdin\n"; res.Stdout != want {
			t.Errorf("stdout = %q, want %q", res.Stdout, want)
		}
	})

	t.Run("a failing command is a result with its exit code and stderr", func(t *testing.T) {
		res, err := sandbox.Exec(ctx, "echo oops >&2; exit 42", cove.ExecOptions{})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		if res.ExitCode != 42 || res.Stderr != "oops\n" || res.TimedOut {
			t.Errorf("Exec = %+v, want exit 42 with stderr %q", res, "oops\n")
		}
	})

	t.Run("a timeout kills the command and says so", func(t *testing.T) {
		started := time.Now()
		res, err := sandbox.Exec(ctx, "echo before; sleep 30; echo after", cove.ExecOptions{Timeout: time.Second})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		if !res.TimedOut || res.Stdout != "before\n" {
			t.Errorf("Exec = %+v, want timed out with stdout %q", res, "before\n")
		}
		if elapsed := time.Since(started); elapsed > 15*time.Second {
			t.Errorf("Exec with a 1 s timeout took %v", elapsed)
		}
	})

	t.Run("a missing cwd is ErrNotFound with reason FILE_NOT_FOUND", func(t *testing.T) {
		_, err := sandbox.Exec(ctx, "true", cove.ExecOptions{Cwd: "/no/such/dir"})
		if !errors.Is(err, cove.ErrNotFound) || !errors.Is(err, cove.ErrFileNotFound) {
			t.Errorf("Exec in a missing cwd: %v, want ErrNotFound and ErrFileNotFound", err)
		}
	})

	t.Run("a context deadline shorter than the command ends the call", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := sandbox.Exec(short, "sleep 20", cove.ExecOptions{})
		if !errors.Is(err, cove.ErrDeadlineExceeded) {
			t.Errorf("Exec past the deadline: %v, want ErrDeadlineExceeded", err)
		}
	})
}

func TestLifecycle(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)

	t.Run("Get returns the created sandbox", func(t *testing.T) {
		got, err := client.Get(ctx, sandbox.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.ID != sandbox.ID || got.State != cove.StateStarted || got.Labels["suite"] != "go-sdk" {
			t.Errorf("Get = %s %s %v, want %s STARTED with label suite=go-sdk", got.ID, got.State, got.Labels, sandbox.ID)
		}
		if got.CreateTime.IsZero() || time.Since(got.CreateTime) > 10*time.Minute {
			t.Errorf("create time = %v, want a recent time", got.CreateTime)
		}
	})

	t.Run("List filters by label", func(t *testing.T) {
		all, err := client.List(ctx, cove.ListOptions{Labels: map[string]string{"suite": "go-sdk"}})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.ContainsFunc(all, func(s *cove.Sandbox) bool { return s.ID == sandbox.ID }) {
			t.Errorf("List(suite=go-sdk) does not include %s", sandbox.ID)
		}
		none, err := client.List(ctx, cove.ListOptions{Labels: map[string]string{"suite": "nobody-uses-this"}})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(none) != 0 {
			t.Errorf("List(suite=nobody-uses-this) = %d sandboxes, want none", len(none))
		}
	})

	t.Run("Stop keeps the filesystem and Start brings the sandbox back", func(t *testing.T) {
		if _, err := sandbox.Exec(ctx, "echo kept > marker", cove.ExecOptions{}); err != nil {
			t.Fatalf("Exec: %v", err)
		}
		stopped, err := client.Stop(ctx, sandbox.ID)
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if stopped.State != cove.StateStopped {
			t.Errorf("Stop returned state %q, want %q", stopped.State, cove.StateStopped)
		}
		stoppedOnly, err := client.List(ctx, cove.ListOptions{States: []cove.State{cove.StateStopped}})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.ContainsFunc(stoppedOnly, func(s *cove.Sandbox) bool { return s.ID == sandbox.ID }) {
			t.Errorf("List(states=STOPPED) does not include the stopped sandbox")
		}
		started, err := client.Start(ctx, sandbox.ID)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if started.State != cove.StateStarted {
			t.Errorf("Start returned state %q, want %q", started.State, cove.StateStarted)
		}
		res, err := started.Exec(ctx, "cat marker", cove.ExecOptions{})
		if err != nil {
			t.Fatalf("Exec after restart: %v", err)
		}
		if res.Stdout != "kept\n" {
			t.Errorf("marker after restart = %q, want %q", res.Stdout, "kept\n")
		}
	})
}

func TestErrors(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)

	t.Run("a missing sandbox is ErrNotFound with reason and metadata", func(t *testing.T) {
		_, err := client.Get(ctx, "nosuchsandbox0000000")
		if !errors.Is(err, cove.ErrNotFound) || !errors.Is(err, cove.ErrSandboxNotFound) {
			t.Fatalf("Get(missing): %v, want ErrNotFound and ErrSandboxNotFound", err)
		}
		if errors.Is(err, cove.ErrUnauthenticated) || errors.Is(err, cove.ErrFileNotFound) {
			t.Errorf("Get(missing): %v also matches an unrelated sentinel", err)
		}
		var coveErr *cove.Error
		if !errors.As(err, &coveErr) {
			t.Fatalf("Get(missing): %T, want *cove.Error", err)
		}
		if coveErr.Code != connect.CodeNotFound || coveErr.Reason != "SANDBOX_NOT_FOUND" {
			t.Errorf("error = code %v reason %q, want not_found SANDBOX_NOT_FOUND", coveErr.Code, coveErr.Reason)
		}
		if coveErr.Metadata["sandboxId"] != "nosuchsandbox0000000" {
			t.Errorf("metadata = %v, want sandboxId=nosuchsandbox0000000", coveErr.Metadata)
		}
		if !strings.Contains(err.Error(), "SANDBOX_NOT_FOUND") {
			t.Errorf("message %q does not name the reason", err.Error())
		}
	})

	t.Run("a bad API key is ErrUnauthenticated", func(t *testing.T) {
		bad := newClient(t, cove.Options{APIKey: "cove_sk_not-a-real-key"})
		_, err := bad.List(ctx, cove.ListOptions{})
		if !errors.Is(err, cove.ErrUnauthenticated) {
			t.Fatalf("List with a bad key: %v, want ErrUnauthenticated", err)
		}
		var coveErr *cove.Error
		if errors.As(err, &coveErr) && coveErr.Reason != "API_KEY_INVALID" {
			t.Errorf("reason = %q, want API_KEY_INVALID", coveErr.Reason)
		}
	})

	t.Run("toolbox calls with a bad API key are ErrUnauthenticated", func(t *testing.T) {
		bad := newClient(t, cove.Options{APIKey: "cove_sk_not-a-real-key"})
		_, err := cove.SandboxOf(bad, sandbox.Raw).Exec(ctx, "true", cove.ExecOptions{})
		if !errors.Is(err, cove.ErrUnauthenticated) {
			t.Fatalf("Exec with a bad key: %v, want ErrUnauthenticated", err)
		}
	})

	t.Run("reading a missing file is ErrFileNotFound", func(t *testing.T) {
		var sink strings.Builder
		err := sandbox.ReadFile(ctx, "/no/such/file", &sink)
		if !errors.Is(err, cove.ErrNotFound) || !errors.Is(err, cove.ErrFileNotFound) {
			t.Fatalf("ReadFile(missing): %v, want ErrNotFound and ErrFileNotFound", err)
		}
	})

	t.Run("New without an API key fails", func(t *testing.T) {
		t.Setenv("COVE_API_KEY", "")
		if _, err := cove.New(cove.Options{APIURL: stack.APIURL}); err == nil {
			t.Error("New without a key succeeded")
		}
	})
}
