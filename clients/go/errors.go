package cove

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	errorsv1 "cove.dev/gen/cove/errors/v1"
)

// errorDomain is the google.rpc.ErrorInfo domain of every Cove error.
const errorDomain = "cove.dev"

// reasonName is an ErrorReason's name without its prefix ("SANDBOX_NOT_FOUND"), or "" for
// UNSPECIFIED and values this build does not know.
func reasonName(r errorsv1.ErrorReason) string {
	name, ok := errorsv1.ErrorReason_name[int32(r)]
	if !ok || r == errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(name, "ERROR_REASON_")
}

// Error is a failed Cove call: the gRPC status code, the machine-readable reason from the
// google.rpc.ErrorInfo detail (an ErrorReason name without its prefix, e.g.
// "SANDBOX_NOT_FOUND"; empty when the server sent none) and its metadata.
//
// Match it with errors.Is against the Err* sentinels (by code, and for some by reason) or
// take it apart with errors.As.
type Error struct {
	// Code is the gRPC status code.
	Code connect.Code
	// Reason is the ErrorInfo reason, e.g. "SANDBOX_NOT_FOUND", or "" when none was sent.
	Reason string
	// Message is the server's human-readable message.
	Message string
	// Metadata is the ErrorInfo metadata (lowerCamelCase keys, e.g. "sandboxId"); never nil.
	Metadata map[string]string
	// RetryDelay is the server's google.rpc.RetryInfo hint, or 0.
	RetryDelay time.Duration

	cause error
}

// Error describes the failure as "cove: <code> (<reason>): <message>".
func (e *Error) Error() string {
	msg := "cove: " + e.Code.String()
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the underlying *connect.Error (and through it any context error).
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is the sentinel for e's code or for e's reason.
func (e *Error) Is(target error) bool {
	if s, ok := codeSentinels[e.Code]; ok && s == target {
		return true
	}
	if s, ok := reasonSentinels[e.Reason]; ok && s == target {
		return true
	}
	return false
}

// sentinel is the type of the Err* values; only *Error values match them.
type sentinel struct{ name string }

func (s *sentinel) Error() string { return "cove: " + s.name }

// Sentinels for every gRPC status code a Cove call can fail with.
var (
	ErrCanceled           error = &sentinel{"canceled"}
	ErrUnknown            error = &sentinel{"unknown"}
	ErrInvalidArgument    error = &sentinel{"invalid argument"}
	ErrDeadlineExceeded   error = &sentinel{"deadline exceeded"}
	ErrNotFound           error = &sentinel{"not found"}
	ErrAlreadyExists      error = &sentinel{"already exists"}
	ErrPermissionDenied   error = &sentinel{"permission denied"}
	ErrResourceExhausted  error = &sentinel{"resource exhausted"}
	ErrFailedPrecondition error = &sentinel{"failed precondition"}
	ErrAborted            error = &sentinel{"aborted"}
	ErrOutOfRange         error = &sentinel{"out of range"}
	ErrUnimplemented      error = &sentinel{"unimplemented"}
	ErrInternal           error = &sentinel{"internal"}
	ErrUnavailable        error = &sentinel{"unavailable"}
	ErrDataLoss           error = &sentinel{"data loss"}
	ErrUnauthenticated    error = &sentinel{"unauthenticated"}
)

// Sentinels for reasons a caller commonly acts on; each also matches its code's sentinel.
var (
	ErrSandboxNotFound      error = &sentinel{"sandbox not found"}
	ErrSandboxStateConflict error = &sentinel{"sandbox state conflict"}
	ErrFileNotFound         error = &sentinel{"file not found"}
	ErrFileExists           error = &sentinel{"file exists"}
	ErrProcessNotFound      error = &sentinel{"process not found"}
	ErrQuotaExceeded        error = &sentinel{"quota exceeded"}
	ErrRateLimited          error = &sentinel{"rate limited"}
	ErrWaitTimedOut         error = &sentinel{"wait timed out"}
)

// codeSentinels is the one table from status codes to sentinels.
var codeSentinels = map[connect.Code]error{
	connect.CodeCanceled:           ErrCanceled,
	connect.CodeUnknown:            ErrUnknown,
	connect.CodeInvalidArgument:    ErrInvalidArgument,
	connect.CodeDeadlineExceeded:   ErrDeadlineExceeded,
	connect.CodeNotFound:           ErrNotFound,
	connect.CodeAlreadyExists:      ErrAlreadyExists,
	connect.CodePermissionDenied:   ErrPermissionDenied,
	connect.CodeResourceExhausted:  ErrResourceExhausted,
	connect.CodeFailedPrecondition: ErrFailedPrecondition,
	connect.CodeAborted:            ErrAborted,
	connect.CodeOutOfRange:         ErrOutOfRange,
	connect.CodeUnimplemented:      ErrUnimplemented,
	connect.CodeInternal:           ErrInternal,
	connect.CodeUnavailable:        ErrUnavailable,
	connect.CodeDataLoss:           ErrDataLoss,
	connect.CodeUnauthenticated:    ErrUnauthenticated,
}

// reasonSentinels is the one table from ErrorInfo reasons to sentinels.
var reasonSentinels = map[string]error{
	"SANDBOX_NOT_FOUND":      ErrSandboxNotFound,
	"SANDBOX_STATE_CONFLICT": ErrSandboxStateConflict,
	"FILE_NOT_FOUND":         ErrFileNotFound,
	"FILE_EXISTS":            ErrFileExists,
	"PROCESS_NOT_FOUND":      ErrProcessNotFound,
	"QUOTA_EXCEEDED":         ErrQuotaExceeded,
	"RATE_LIMITED":           ErrRateLimited,
	"WAIT_TIMED_OUT":         ErrWaitTimedOut,
}

// fromRPC turns an error of a connect-go call into an *Error. A nil error stays nil; an error
// that already is an *Error is returned as is.
func fromRPC(err error) error {
	if err == nil {
		return nil
	}
	var coveErr *Error
	if errors.As(err, &coveErr) {
		return err
	}
	e := &Error{Code: connect.CodeOf(err), Metadata: map[string]string{}, cause: err}
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) {
		// Not from connect-go: a context error or a local failure.
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			e.Code = connect.CodeDeadlineExceeded
		case errors.Is(err, context.Canceled):
			e.Code = connect.CodeCanceled
		}
		e.Message = err.Error()
		return e
	}
	e.Message = connectErr.Message()
	for _, detail := range connectErr.Details() {
		value, derr := detail.Value()
		if derr != nil {
			continue // a detail type this binary does not know
		}
		switch v := value.(type) {
		case *errdetails.ErrorInfo:
			if v.GetDomain() != errorDomain && v.GetDomain() != "" {
				continue
			}
			e.Reason = v.GetReason()
			for k, val := range v.GetMetadata() {
				e.Metadata[k] = val
			}
		case *errdetails.RetryInfo:
			e.RetryDelay = v.GetRetryDelay().AsDuration()
		}
	}
	return e
}

// localError makes an *Error for a failure the client detects itself.
func localError(code connect.Code, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Message: msg, Metadata: map[string]string{}, cause: connect.NewError(code, errors.New(msg))}
}
