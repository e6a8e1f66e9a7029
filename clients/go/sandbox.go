package cove

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	sandboxv1 "cove.dev/gen/cove/sandbox/v1"
	toolboxv1 "cove.dev/gen/cove/toolbox/v1"
	"cove.dev/gen/cove/toolbox/v1/toolboxv1connect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// State is a sandbox's lifecycle state, e.g. StateStarted.
type State string

// The states a sandbox passes through; see the SandboxState enum of cove.sandbox.v1.
const (
	StatePendingBuild     State = "PENDING_BUILD"
	StateBuildingSnapshot State = "BUILDING_SNAPSHOT"
	StatePullingSnapshot  State = "PULLING_SNAPSHOT"
	StateCreating         State = "CREATING"
	StateStarting         State = "STARTING"
	StateStarted          State = "STARTED"
	StateStopping         State = "STOPPING"
	StateStopped          State = "STOPPED"
	StateArchiving        State = "ARCHIVING"
	StateArchived         State = "ARCHIVED"
	StateRestoring        State = "RESTORING"
	StateDestroying       State = "DESTROYING"
	StateDestroyed        State = "DESTROYED"
	StateError            State = "ERROR"
)

const statePrefix = "SANDBOX_STATE_"

func stateOf(s sandboxv1.SandboxState) State {
	if s == sandboxv1.SandboxState_SANDBOX_STATE_UNSPECIFIED {
		return ""
	}
	return State(strings.TrimPrefix(s.String(), statePrefix))
}

func (s State) proto() sandboxv1.SandboxState {
	return sandboxv1.SandboxState(sandboxv1.SandboxState_value[statePrefix+string(s)])
}

// Sandbox is one sandbox as last fetched, plus the toolbox calls that run inside it. Its
// fields are a snapshot; Refresh fetches them again. Its toolbox methods (Exec, Start,
// files) are safe for concurrent use; Refresh must not run concurrently with them.
type Sandbox struct {
	// ID is the sandbox id.
	ID string
	// State is the state when the sandbox was fetched.
	State State
	// ErrorReason and ErrorMessage say why, when State is StateError.
	ErrorReason, ErrorMessage string
	// Labels are the sandbox's labels.
	Labels map[string]string
	// CreateTime is when the sandbox was created.
	CreateTime time.Time
	// Raw is the full sandbox message as the server sent it.
	Raw *sandboxv1.Sandbox

	client      *Client
	process     toolboxv1connect.ProcessServiceClient
	files       toolboxv1connect.FilesystemServiceClient
	git         toolboxv1connect.GitServiceClient
	interpreter toolboxv1connect.InterpreterServiceClient
	lsp         toolboxv1connect.LspServiceClient
}

func (c *Client) newSandbox(sb *sandboxv1.Sandbox) *Sandbox {
	s := &Sandbox{
		ID:           sb.GetSandboxId(),
		State:        stateOf(sb.GetState()),
		ErrorMessage: sb.GetErrorMessage(),
		Labels:       sb.GetLabels(),
		Raw:          sb,
		client:       c,
	}
	s.ErrorReason = reasonName(sb.GetErrorReason())
	if sb.GetCreateTime() != nil {
		s.CreateTime = sb.GetCreateTime().AsTime()
	}
	// The configured proxy URL (Options.ProxyURL or COVE_PROXY_URL) wins over the server's.
	toolboxURL := strings.TrimRight(firstNonEmpty(c.proxyURL, sb.GetToolboxUrl()), "/")
	opts := c.clientOptions("cove-sandbox-id", s.ID)
	s.process = toolboxv1connect.NewProcessServiceClient(c.httpClient, toolboxURL, opts...)
	s.files = toolboxv1connect.NewFilesystemServiceClient(c.httpClient, toolboxURL, opts...)
	s.git = toolboxv1connect.NewGitServiceClient(c.httpClient, toolboxURL, opts...)
	s.interpreter = toolboxv1connect.NewInterpreterServiceClient(c.httpClient, toolboxURL, opts...)
	s.lsp = toolboxv1connect.NewLspServiceClient(c.httpClient, toolboxURL, opts...)
	return s
}

// Refresh fetches the sandbox again and updates its fields.
func (s *Sandbox) Refresh(ctx context.Context) error {
	fresh, err := s.client.Get(ctx, s.ID)
	if err != nil {
		return err
	}
	*s = *fresh
	return nil
}

// Delete destroys the sandbox; see Client.Delete.
func (s *Sandbox) Delete(ctx context.Context) error {
	return s.client.Delete(ctx, s.ID)
}

// ExecOptions tune Exec; the zero value runs in the user's home directory with a 60 s
// timeout.
type ExecOptions struct {
	// Cwd is the working directory; relative paths resolve against the home directory.
	Cwd string
	// Env holds extra environment variables.
	Env map[string]string
	// Timeout kills the command's process tree after this long; the result then has
	// TimedOut set. Zero means 60 s.
	Timeout time.Duration
	// Stdin is written to the command's standard input (at most 8 MiB).
	Stdin []byte
}

// ExecResult is what a finished command produced.
type ExecResult struct {
	// ExitCode is the exit status; 128 + the signal number when killed by a signal.
	ExitCode int
	// Stdout and Stderr are the captured output (the last 1 MiB of each).
	Stdout, Stderr string
	// TimedOut is true when the timeout elapsed and the command was killed.
	TimedOut bool
	// Duration is the command's wall-clock time.
	Duration time.Duration
}

// defaultCommandTimeout is the daemon's timeout for Exec and CodeRun when none is given.
const defaultCommandTimeout = 60 * time.Second

// commandDeadline is how long an Exec or CodeRun call may take: the command's own timeout
// plus the client's call timeout for transport and queueing.
func (s *Sandbox) commandDeadline(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	return timeout + s.client.timeout
}

func durationOrNil(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// Exec runs a shell command (`/bin/sh -c command`) to completion and returns its exit code
// and output. A non-zero exit is a result, not an error.
func (s *Sandbox) Exec(ctx context.Context, command string, opts ExecOptions) (*ExecResult, error) {
	res, err := once(ctx, s.client, s.commandDeadline(opts.Timeout), s.process.Exec, &toolboxv1.ExecRequest{
		Program: &toolboxv1.ExecRequest_Command{Command: command},
		Cwd:     opts.Cwd,
		Env:     opts.Env,
		Stdin:   opts.Stdin,
		Timeout: durationOrNil(opts.Timeout),
	})
	if err != nil {
		return nil, err
	}
	return &ExecResult{
		ExitCode: int(res.GetExitCode()),
		Stdout:   string(res.GetStdout()),
		Stderr:   string(res.GetStderr()),
		TimedOut: res.GetTimedOut(),
		Duration: res.GetDuration().AsDuration(),
	}, nil
}

// Language is the language of CodeRun's code.
type Language string

// Languages CodeRun understands.
const (
	Python     Language = "python"
	JavaScript Language = "javascript"
	TypeScript Language = "typescript"
)

func (l Language) proto() (toolboxv1.CodeLanguage, error) {
	switch l {
	case "", Python:
		return toolboxv1.CodeLanguage_CODE_LANGUAGE_PYTHON, nil
	case JavaScript:
		return toolboxv1.CodeLanguage_CODE_LANGUAGE_JAVASCRIPT, nil
	case TypeScript:
		return toolboxv1.CodeLanguage_CODE_LANGUAGE_TYPESCRIPT, nil
	}
	return 0, localError(connect.CodeInvalidArgument, "unknown language %q", string(l))
}

// CodeRunOptions tune CodeRun.
type CodeRunOptions struct {
	// Language is the language of the code. Default Python.
	Language Language
	// Args are passed to the program (sys.argv[1:] in Python).
	Args []string
	// Cwd, Env and Timeout are as in ExecOptions.
	Cwd     string
	Env     map[string]string
	Timeout time.Duration
}

// CodeRun runs a snippet of code once in a fresh interpreter and returns its result.
func (s *Sandbox) CodeRun(ctx context.Context, code string, opts CodeRunOptions) (*ExecResult, error) {
	lang, err := opts.Language.proto()
	if err != nil {
		return nil, err
	}
	res, err := once(ctx, s.client, s.commandDeadline(opts.Timeout), s.process.CodeRun, &toolboxv1.CodeRunRequest{
		Language: lang,
		Code:     code,
		Argv:     opts.Args,
		Env:      opts.Env,
		Cwd:      opts.Cwd,
		Timeout:  durationOrNil(opts.Timeout),
	})
	if err != nil {
		return nil, err
	}
	return &ExecResult{
		ExitCode: int(res.GetExitCode()),
		Stdout:   string(res.GetStdout()),
		Stderr:   string(res.GetStderr()),
		TimedOut: res.GetTimedOut(),
		Duration: res.GetDuration().AsDuration(),
	}, nil
}
