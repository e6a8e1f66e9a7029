package cove

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"
	toolboxv1 "cove.dev/gen/cove/toolbox/v1"
)

// streamIdleLimit is how long a process stream may stay silent before the client gives up
// on it; the daemon sends a keepalive after 15 s without output.
const streamIdleLimit = 60 * time.Second

// StartOptions tune Start.
type StartOptions struct {
	// Stdout and Stderr receive the process's output as it arrives, in order; nil discards.
	// They are written from one goroutine, never concurrently.
	Stdout, Stderr io.Writer
	// Cwd and Env are as in ExecOptions.
	Cwd string
	Env map[string]string
	// Timeout kills the process tree after this long. Zero means no timeout.
	Timeout time.Duration
}

// ProcessResult is how a started process ended.
type ProcessResult struct {
	// ExitCode is the exit status; 128 + the signal number when killed by a signal.
	ExitCode int
	// Signal is the number of the signal that killed the process, or 0.
	Signal int
	// TimedOut is true when the process's timeout killed it.
	TimedOut bool
}

// Process is a command started with Start whose output streams to the writers in the
// background.
type Process struct {
	// PID is the process id inside the sandbox.
	PID uint32

	sandbox *Sandbox
	cancel  context.CancelCauseFunc
	done    chan struct{}
	result  *ProcessResult
	err     error
}

// Start starts a shell command and returns once it runs; its output is copied to
// opts.Stdout and opts.Stderr in the background. ctx governs the whole process: cancelling
// it ends the stream and kills the process tree. Call Wait for the outcome.
func (s *Sandbox) Start(ctx context.Context, command string, opts StartOptions) (*Process, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	stream, err := s.process.Start(ctx, connect.NewRequest(&toolboxv1.StartRequest{
		Program:          &toolboxv1.StartRequest_Command{Command: command},
		Cwd:              opts.Cwd,
		Env:              opts.Env,
		Timeout:          durationOrNil(opts.Timeout),
		KillOnDisconnect: true,
	}))
	if err != nil {
		cancel(nil)
		return nil, fromRPC(err)
	}
	// A watchdog cancels the stream when nothing (not even a keepalive) arrives in time.
	watchdog := time.AfterFunc(streamIdleLimit, func() {
		cancel(localError(connect.CodeUnavailable, "process stream silent for %v", streamIdleLimit))
	})
	// The first event is start, carrying the pid; anything else first is a protocol error.
	if !stream.Receive() {
		err := streamErr(ctx, stream.Err())
		if err == nil {
			err = localError(connect.CodeInternal, "process stream ended before start")
		}
		watchdog.Stop()
		cancel(nil)
		_ = stream.Close()
		return nil, err
	}
	start := stream.Msg().GetEvent().GetStart()
	if start == nil {
		watchdog.Stop()
		cancel(nil)
		_ = stream.Close()
		return nil, localError(connect.CodeInternal, "process stream began with %T, not start", stream.Msg().GetEvent().GetEvent())
	}
	p := &Process{PID: start.GetPid(), sandbox: s, cancel: cancel, done: make(chan struct{})}
	go p.pump(ctx, stream, watchdog, opts.Stdout, opts.Stderr)
	return p, nil
}

// pump copies the stream's output to the writers until end, then records the result.
func (p *Process) pump(ctx context.Context, stream *connect.ServerStreamForClient[toolboxv1.StartResponse],
	watchdog *time.Timer, stdout, stderr io.Writer,
) {
	defer close(p.done)
	defer p.cancel(nil)
	defer watchdog.Stop()
	defer func() { _ = stream.Close() }()
	for stream.Receive() {
		watchdog.Reset(streamIdleLimit)
		switch ev := stream.Msg().GetEvent().GetEvent().(type) {
		case *toolboxv1.ProcessEvent_Data:
			if err := writeOutput(ev.Data, stdout, stderr); err != nil {
				p.err = fmt.Errorf("cove: writing process output: %w", err)
				return // the deferred cancel ends the stream and kills the process
			}
		case *toolboxv1.ProcessEvent_End:
			end := ev.End
			if end.GetError() != "" {
				p.err = localError(connect.CodeInternal, "process %d: %s", p.PID, end.GetError())
				return
			}
			p.result = &ProcessResult{
				ExitCode: int(end.GetExitCode()),
				Signal:   int(end.GetSignal()),
				TimedOut: end.GetTimedOut(),
			}
			return
		}
	}
	p.err = streamErr(ctx, stream.Err())
	if p.err == nil {
		p.err = localError(connect.CodeInternal, "process %d: stream ended without an end event", p.PID)
	}
}

// writeOutput writes one chunk to the writer of its stream (pty output goes to stdout).
func writeOutput(out *toolboxv1.ProcessOutput, stdout, stderr io.Writer) error {
	var w io.Writer
	var data []byte
	switch o := out.GetOutput().(type) {
	case *toolboxv1.ProcessOutput_Stdout:
		w, data = stdout, o.Stdout
	case *toolboxv1.ProcessOutput_Stderr:
		w, data = stderr, o.Stderr
	case *toolboxv1.ProcessOutput_Pty:
		w, data = stdout, o.Pty
	}
	if w == nil || len(data) == 0 {
		return nil
	}
	_, err := w.Write(data)
	return err
}

// streamErr maps a stream's error to an *Error, preferring the cause the client itself
// cancelled the stream with (e.g. the idle watchdog).
func streamErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var coveErr *Error
	if cause := context.Cause(ctx); cause != nil && errors.As(cause, &coveErr) {
		return coveErr
	}
	return fromRPC(err)
}

// Wait waits until the process has ended and its last output byte has been written, and
// returns how it ended. A non-zero exit is a result, not an error. If ctx ends first, Wait
// returns ctx's error and the process keeps running.
func (p *Process) Wait(ctx context.Context) (*ProcessResult, error) {
	select {
	case <-p.done:
		return p.result, p.err
	case <-ctx.Done():
		return nil, fromRPC(ctx.Err())
	}
}

// Kill sends SIGKILL to the process tree.
func (p *Process) Kill(ctx context.Context) error {
	_, err := unary(ctx, p.sandbox.client, p.sandbox.client.timeout, p.sandbox.process.SendSignal,
		&toolboxv1.SendSignalRequest{
			Process: &toolboxv1.ProcessSelector{Selector: &toolboxv1.ProcessSelector_Pid{Pid: p.PID}},
			Signal:  toolboxv1.Signal_SIGNAL_SIGKILL,
		})
	return err
}

// Done is closed when the process has ended and its output has been written.
func (p *Process) Done() <-chan struct{} { return p.done }
