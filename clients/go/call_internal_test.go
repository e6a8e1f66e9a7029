package cove

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// rpcError builds a connect error as a Cove server sends it: code, message, ErrorInfo.
func rpcError(t *testing.T, code connect.Code, reason string, metadata map[string]string) *connect.Error {
	t.Helper()
	err := connect.NewError(code, errors.New("something failed"))
	detail, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: reason, Domain: "cove.dev", Metadata: metadata})
	if derr != nil {
		t.Fatal(derr)
	}
	err.AddDetail(detail)
	return err
}

func TestFromRPCMapsCodesAndReasons(t *testing.T) {
	err := fromRPC(rpcError(t, connect.CodeNotFound, "FILE_NOT_FOUND", map[string]string{"path": "/x"}))
	var coveErr *Error
	if !errors.As(err, &coveErr) {
		t.Fatalf("fromRPC returned %T, want *Error", err)
	}
	if coveErr.Code != connect.CodeNotFound || coveErr.Reason != "FILE_NOT_FOUND" ||
		coveErr.Message != "something failed" || coveErr.Metadata["path"] != "/x" {
		t.Errorf("fromRPC = %+v", coveErr)
	}
	for _, want := range []error{ErrNotFound, ErrFileNotFound} {
		if !errors.Is(err, want) {
			t.Errorf("errors.Is(%v, %v) = false", err, want)
		}
	}
	for _, not := range []error{ErrSandboxNotFound, ErrInternal, ErrUnauthenticated} {
		if errors.Is(err, not) {
			t.Errorf("errors.Is(%v, %v) = true", err, not)
		}
	}
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) {
		t.Error("the *connect.Error is not reachable with errors.As")
	}

	// Every code has its sentinel; a reason the client does not know is the code alone.
	for code, sentinel := range codeSentinels {
		err := fromRPC(rpcError(t, code, "SOME_FUTURE_REASON", nil))
		if !errors.Is(err, sentinel) {
			t.Errorf("code %v does not match %v", code, sentinel)
		}
	}

	// A context error that never reached connect-go keeps its code and stays matchable.
	err = fromRPC(context.DeadlineExceeded)
	if !errors.Is(err, ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("fromRPC(context.DeadlineExceeded) = %v", err)
	}
	if fromRPC(nil) != nil {
		t.Error("fromRPC(nil) != nil")
	}
}

func TestFromRPCReadsRetryInfo(t *testing.T) {
	cerr := rpcError(t, connect.CodeResourceExhausted, "RATE_LIMITED", nil)
	detail, _ := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	cerr.AddDetail(detail)
	var coveErr *Error
	errors.As(fromRPC(cerr), &coveErr)
	if coveErr.RetryDelay != 1500*time.Millisecond || !errors.Is(coveErr, ErrRateLimited) {
		t.Errorf("fromRPC = %+v, want RetryDelay 1.5s and ErrRateLimited", coveErr)
	}
}

// fakeCall is a unary call that fails with errs in turn, then succeeds, and records each
// attempt's deadline.
type fakeCall struct {
	errs      []error
	attempts  int
	deadlines []time.Time
}

func (f *fakeCall) call(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
	f.attempts++
	d, _ := ctx.Deadline()
	f.deadlines = append(f.deadlines, d)
	if f.attempts <= len(f.errs) {
		return nil, f.errs[f.attempts-1]
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func testClient() *Client {
	return &Client{timeout: time.Minute, retry: retryPolicy{maxRetries: 3, base: time.Millisecond, max: 5 * time.Millisecond}}
}

func TestUnaryRetriesOnlyTransientCodes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          *connect.Error
		wantAttempts int
	}{
		{"Unavailable is retried", rpcError(t, connect.CodeUnavailable, "RUNNER_UNAVAILABLE", nil), 3},
		{"Aborted is retried", rpcError(t, connect.CodeAborted, "", nil), 3},
		{"ResourceExhausted (rate limit) is retried", rpcError(t, connect.CodeResourceExhausted, "RATE_LIMITED", nil), 3},
		{"ResourceExhausted (quota) is not", rpcError(t, connect.CodeResourceExhausted, "QUOTA_EXCEEDED", nil), 1},
		{"NotFound is not", rpcError(t, connect.CodeNotFound, "SANDBOX_NOT_FOUND", nil), 1},
		{"Internal is not", rpcError(t, connect.CodeInternal, "INTERNAL", nil), 1},
		{"DeadlineExceeded is not", rpcError(t, connect.CodeDeadlineExceeded, "", nil), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCall{errs: []error{tc.err, tc.err}}
			_, err := unary(context.Background(), testClient(), time.Minute, f.call, &emptypb.Empty{})
			if f.attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", f.attempts, tc.wantAttempts)
			}
			if tc.wantAttempts == 3 && err != nil {
				t.Errorf("err = %v after retries, want success", err)
			}
			if tc.wantAttempts == 1 && connect.CodeOf(err) != tc.err.Code() {
				t.Errorf("err = %v, want code %v", err, tc.err.Code())
			}
		})
	}
}

func TestOnceRetriesOnlyWhatTheServerRefusedUpFront(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          *connect.Error
		wantAttempts int
	}{
		{"Unavailable may have run: not retried", rpcError(t, connect.CodeUnavailable, "", nil), 1},
		{"Aborted may have run: not retried", rpcError(t, connect.CodeAborted, "", nil), 1},
		{"a rate limit refused it before acting: retried", rpcError(t, connect.CodeResourceExhausted, "RATE_LIMITED", nil), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCall{errs: []error{tc.err, tc.err}}
			_, _ = once(context.Background(), testClient(), time.Minute, f.call, &emptypb.Empty{})
			if f.attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", f.attempts, tc.wantAttempts)
			}
		})
	}
}

func TestCreatedSandboxIDNeverNamesAnotherRequestsSandbox(t *testing.T) {
	for _, tc := range []struct {
		reason   string
		metadata map[string]string
		want     string
	}{
		{"INTERNAL", map[string]string{"sandbox_id": "made"}, "made"},
		{"WAIT_TIMED_OUT", map[string]string{"sandboxId": "waited"}, "waited"},
		{"IDEMPOTENCY_CONFLICT", map[string]string{"sandboxId": "not-ours"}, ""},
		{"QUOTA_EXCEEDED", map[string]string{}, ""},
	} {
		var e *Error
		errors.As(fromRPC(rpcError(t, connect.CodeFailedPrecondition, tc.reason, tc.metadata)), &e)
		if got := createdSandboxID(e); got != tc.want {
			t.Errorf("%s %v: createdSandboxID = %q, want %q", tc.reason, tc.metadata, got, tc.want)
		}
	}
}

func TestUnaryGivesUpAfterMaxRetries(t *testing.T) {
	unavailable := rpcError(t, connect.CodeUnavailable, "", nil)
	f := &fakeCall{errs: []error{unavailable, unavailable, unavailable, unavailable, unavailable}}
	_, err := unary(context.Background(), testClient(), time.Minute, f.call, &emptypb.Empty{})
	if f.attempts != 4 || !errors.Is(err, ErrUnavailable) {
		t.Errorf("attempts = %d, err = %v; want 4 attempts ending in ErrUnavailable", f.attempts, err)
	}
}

func TestUnaryDeadlines(t *testing.T) {
	t.Run("a call without a deadline gets the default", func(t *testing.T) {
		f := &fakeCall{}
		before := time.Now()
		if _, err := unary(context.Background(), testClient(), 42*time.Second, f.call, &emptypb.Empty{}); err != nil {
			t.Fatal(err)
		}
		if got := f.deadlines[0].Sub(before); got < 41*time.Second || got > 43*time.Second {
			t.Errorf("deadline %v from now, want about 42s", got)
		}
	})
	t.Run("the caller's deadline is kept", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		want, _ := ctx.Deadline()
		f := &fakeCall{}
		if _, err := unary(ctx, testClient(), time.Hour, f.call, &emptypb.Empty{}); err != nil {
			t.Fatal(err)
		}
		if !f.deadlines[0].Equal(want) {
			t.Errorf("deadline = %v, want the caller's %v", f.deadlines[0], want)
		}
	})
}

func TestBackoffIsJitteredAndBounded(t *testing.T) {
	p := retryPolicy{maxRetries: 5, base: 100 * time.Millisecond, max: time.Second}
	seen := map[time.Duration]bool{}
	for range 50 {
		d := p.backoff(1, 0) // nominal 200ms
		if d < 100*time.Millisecond || d > 200*time.Millisecond {
			t.Fatalf("backoff(1) = %v, want within [100ms, 200ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Error("backoff is not jittered")
	}
	if d := p.backoff(30, 0); d > time.Second {
		t.Errorf("backoff(30) = %v, want at most the 1s cap", d)
	}
	if d := p.backoff(0, 3*time.Second); d != 3*time.Second {
		t.Errorf("backoff with a 3s RetryInfo hint = %v, want 3s", d)
	}
}
