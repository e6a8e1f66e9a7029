package cove

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"connectrpc.com/connect"
)

// headerInterceptor sets fixed request headers (authorization, cove-sandbox-id) on every
// unary and streaming call of the clients it is given to.
type headerInterceptor struct {
	headers http.Header
}

// newHeaderInterceptor returns an interceptor that sends "authorization: Bearer <apiKey>"
// plus the given extra headers (name, value pairs).
func newHeaderInterceptor(apiKey string, extra ...string) *headerInterceptor {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+apiKey)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return &headerInterceptor{headers: h}
}

func (h *headerInterceptor) apply(dst http.Header) {
	for k, vs := range h.headers {
		dst[k] = append([]string(nil), vs...)
	}
}

func (h *headerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		h.apply(req.Header())
		return next(ctx, req)
	}
}

func (h *headerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		h.apply(conn.RequestHeader())
		return conn
	}
}

func (h *headerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// retryPolicy says how unary calls are retried.
type retryPolicy struct {
	// maxRetries is how many times a call is retried after its first attempt.
	maxRetries int
	// base is the backoff before the first retry; it doubles each retry, up to max.
	base, max time.Duration
}

// retryable says whether a failed unary call may be tried again: only Unavailable,
// ResourceExhausted and Aborted, and never when the reason says that waiting cannot help
// (a used-up quota, an oversized payload).
func retryable(err *Error) bool {
	switch err.Code {
	case connect.CodeUnavailable, connect.CodeAborted:
		return true
	case connect.CodeResourceExhausted:
		return err.Reason != "QUOTA_EXCEEDED" && err.Reason != "PAYLOAD_TOO_LARGE"
	}
	return false
}

// backoff is the jittered delay before retry number attempt (0-based): uniformly random in
// [d/2, d] where d = base·2^attempt capped at max, and at least the server's RetryInfo hint.
func (p retryPolicy) backoff(attempt int, hint time.Duration) time.Duration {
	d := p.base << attempt
	if d <= 0 || d > p.max {
		d = p.max
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, hint)
}

// withDefaultTimeout gives ctx a deadline of timeout from now unless it has one already.
func withDefaultTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// unary makes one unary call with a deadline (timeout unless ctx has one), retrying per the
// client's policy, and returns the response message or an *Error. Each attempt sends a
// fresh request for msg. Use it for calls that are safe to repeat; see once.
func unary[Req, Res any](
	ctx context.Context,
	c *Client,
	timeout time.Duration,
	call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	msg *Req,
) (*Res, error) {
	return unaryCall(ctx, c, timeout, call, msg, true)
}

// once is unary for calls with side effects (a command, a commit, a clone): after an
// Unavailable or Aborted the call may already have run, so it is retried only when the
// server refused it before acting (RATE_LIMITED).
func once[Req, Res any](
	ctx context.Context,
	c *Client,
	timeout time.Duration,
	call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	msg *Req,
) (*Res, error) {
	return unaryCall(ctx, c, timeout, call, msg, false)
}

// unaryCall is unary and once; idempotent says whether every retryable failure may be retried.
func unaryCall[Req, Res any](
	ctx context.Context,
	c *Client,
	timeout time.Duration,
	call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	msg *Req,
	idempotent bool,
) (*Res, error) {
	ctx, cancel := withDefaultTimeout(ctx, timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		res, err := call(ctx, connect.NewRequest(msg))
		if err == nil {
			return res.Msg, nil
		}
		var coveErr *Error
		errors.As(fromRPC(err), &coveErr)
		if attempt >= c.retry.maxRetries || !retryable(coveErr) || (!idempotent && coveErr.Reason != "RATE_LIMITED") {
			return nil, coveErr
		}
		timer := time.NewTimer(c.retry.backoff(attempt, coveErr.RetryDelay))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, coveErr
		case <-timer.C:
		}
	}
}
