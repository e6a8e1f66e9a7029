package cove_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"cove.dev/sdk"
)

const (
	// stackStartTimeout bounds how long test/serve-stack.ts may take to print its addresses
	// (Postgres, Redis, server, runner and proxy; the first run also builds the daemon kit).
	stackStartTimeout = 180 * time.Second
	// stackStopTimeout bounds how long the stack may take to stop once its stdin is closed.
	stackStopTimeout = 60 * time.Second
	// testTimeout bounds the calls of one test.
	testTimeout = 3 * time.Minute
)

// stackInfo is the line test/serve-stack.ts prints once the stack is up.
type stackInfo struct {
	APIURL   string `json:"apiUrl"`
	ProxyURL string `json:"proxyUrl"`
	SSHPort  int    `json:"sshPort"`
	AdminKey string `json:"adminKey"`
}

// stack is the Cove every test talks to, set once by TestMain.
var stack stackInfo

func TestMain(m *testing.M) {
	os.Exit(runWithStack(m))
}

// runWithStack starts the stack, runs the tests and stops the stack again; a separate
// function so that the deferred stop runs before os.Exit. COVE_SDK_TEST_STACK may hold the
// JSON line of a stack that is already running (quick local iterations); then nothing is
// started or stopped.
func runWithStack(m *testing.M) int {
	if given := os.Getenv("COVE_SDK_TEST_STACK"); given != "" {
		if err := json.Unmarshal([]byte(given), &stack); err != nil {
			fmt.Fprintf(os.Stderr, "cove sdk tests: COVE_SDK_TEST_STACK: %v\n", err)
			return 1
		}
		return m.Run()
	}
	s, err := startStack()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cove sdk tests: %v\n", err)
		return 1
	}
	defer func() {
		if err := s.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "cove sdk tests: stopping the stack: %v\n", err)
		}
	}()
	stack = s.info
	return m.Run()
}

// servedStack is a running test/serve-stack.ts process.
type servedStack struct {
	cmd     *exec.Cmd
	stdin   io.Closer
	drained <-chan struct{} // closed when the process's stdout reaches EOF
	info    stackInfo
}

// startStack launches test/serve-stack.ts from the repository root and waits for its line.
func startStack() (*servedStack, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "node_modules", ".bin", "tsx"), "test/serve-stack.ts")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "COVE_STACK_NAME=go-sdk")
	cmd.Stderr = os.Stderr
	// Its own process group, so that a stuck stack can be killed with everything it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting test/serve-stack.ts: %w", err)
	}

	type announcement struct {
		line string
		err  error
	}
	announced := make(chan announcement, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		announced <- announcement{line, err}
		_, _ = io.Copy(io.Discard, r)
	}()
	s := &servedStack{cmd: cmd, stdin: stdin, drained: drained}

	select {
	case a := <-announced:
		if a.err != nil {
			return nil, errors.Join(fmt.Errorf("reading the stack's line: %w", a.err), s.stop())
		}
		if err := json.Unmarshal([]byte(a.line), &s.info); err != nil {
			return nil, errors.Join(fmt.Errorf("stack printed %q: %w", a.line, err), s.stop())
		}
		if s.info.APIURL == "" || s.info.ProxyURL == "" || s.info.AdminKey == "" {
			return nil, errors.Join(fmt.Errorf("stack printed an incomplete line %q", a.line), s.stop())
		}
		return s, nil
	case <-time.After(stackStartTimeout):
		return nil, errors.Join(fmt.Errorf("stack printed nothing within %v", stackStartTimeout), s.stop())
	}
}

// stop closes the stack's stdin, which makes it shut down; only if it is still running
// after stackStopTimeout is its process group killed.
func (s *servedStack) stop() error {
	_ = s.stdin.Close()
	exited := make(chan error, 1)
	go func() {
		<-s.drained
		exited <- s.cmd.Wait()
	}()
	select {
	case err := <-exited:
		return err
	case <-time.After(stackStopTimeout):
		fmt.Fprintf(os.Stderr, "cove sdk tests: stack still running after %v, killing it\n", stackStopTimeout)
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		return <-exited
	}
}

// testContext returns a context that ends with the test or after testTimeout.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a client of the stack with the admin key, overriding opts' URLs and key
// unless set.
func newClient(t *testing.T, opts cove.Options) *cove.Client {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = stack.AdminKey
	}
	opts.APIURL = stack.APIURL
	opts.ProxyURL = stack.ProxyURL
	client, err := cove.New(opts)
	if err != nil {
		t.Fatalf("cove.New: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// newSandbox creates a sandbox of the default image for one test and deletes it afterwards.
func newSandbox(t *testing.T, client *cove.Client) *cove.Sandbox {
	t.Helper()
	sandbox, err := client.Create(testContext(t), cove.CreateOptions{Labels: map[string]string{"suite": "go-sdk"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := sandbox.Delete(ctx); err != nil {
			t.Errorf("deleting sandbox %s: %v", sandbox.ID, err)
		}
	})
	return sandbox
}
