// Package interop calls a real Cove server (interop/fixture) from Go: connect-go in every
// protocol the server speaks, classic grpc-go, and gRPC server reflection.
package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// baseURL is the fixture server's address ("http://127.0.0.1:PORT"), set once by TestMain.
var baseURL string

const (
	// startTimeout bounds how long the fixture may take to print its address.
	startTimeout = 30 * time.Second
	// stopTimeout bounds how long the fixture may take to exit once its stdin is closed.
	stopTimeout = 5 * time.Second
	// callTimeout is the deadline of every RPC the tests make.
	callTimeout = 10 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run starts the fixture, runs the tests against it and stops it again; a separate function
// so that the deferred stop runs before os.Exit.
func run(m *testing.M) int {
	server, err := startFixture()
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		return 1
	}
	defer func() {
		if err := server.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "interop: stopping the fixture: %v\n", err)
		}
	}()
	baseURL = server.url
	return m.Run()
}

// fixture is a running interop/fixture/main.ts process.
type fixture struct {
	cmd     *exec.Cmd
	stdin   io.Closer
	drained <-chan struct{} // closed when the fixture's stdout reaches EOF
	url     string
}

// startFixture launches the fixture from the repository root and waits for the JSON line
// announcing its address.
func startFixture() (*fixture, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "node_modules", ".bin", "tsx"), "interop/fixture/main.ts")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	// Its own process group, so stop can signal tsx and the node process it spawns together.
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
		return nil, fmt.Errorf("starting the fixture: %w", err)
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
	f := &fixture{cmd: cmd, stdin: stdin, drained: drained}

	select {
	case a := <-announced:
		if a.err != nil {
			return nil, errors.Join(fmt.Errorf("reading the fixture's address: %w", a.err), f.stop())
		}
		var msg struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(a.line), &msg); err != nil {
			return nil, errors.Join(fmt.Errorf("fixture printed %q: %w", a.line, err), f.stop())
		}
		if u, err := url.Parse(msg.URL); err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, errors.Join(fmt.Errorf("fixture printed an unusable url %q", msg.URL), f.stop())
		}
		f.url = msg.URL
		return f, nil
	case <-time.After(startTimeout):
		return nil, errors.Join(fmt.Errorf("fixture printed no address within %v", startTimeout), f.stop())
	}
}

// stop closes the fixture's stdin, which makes it exit; if it has not exited within
// stopTimeout, its process group is killed.
func (f *fixture) stop() error {
	_ = f.stdin.Close()
	select {
	case <-f.drained:
	case <-time.After(stopTimeout):
		fmt.Fprintf(os.Stderr, "interop: fixture still running after %v, killing it\n", stopTimeout)
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.drained
	}
	return f.cmd.Wait()
}

// callContext returns a context with the deadline every RPC in these tests carries.
func callContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// grpcTarget is the fixture's address as grpc-go dials it ("127.0.0.1:PORT").
func grpcTarget(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatalf("parsing %q: %v", baseURL, err)
	}
	return u.Host
}
