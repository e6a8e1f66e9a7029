package cove_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cove.dev/sdk"
)

// TestQuickstart walks the quickstart a user follows, against a real stack: create, run
// Python, move a file in and out, stream a command, delete.
func TestQuickstart(t *testing.T) {
	client := newClient(t, cove.Options{})
	ctx := testContext(t)
	sandbox, err := client.Create(ctx, cove.CreateOptions{Labels: map[string]string{"suite": "go-sdk"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = client.Delete(ctx, sandbox.ID)
		}
	})
	if sandbox.State != cove.StateStarted {
		t.Fatalf("Create returned state %q, want %q", sandbox.State, cove.StateStarted)
	}

	t.Run("Exec runs python and returns its output", func(t *testing.T) {
		res, err := sandbox.Exec(ctx, `python3 -c 'print("Sum:", 3 + 4)'`, cove.ExecOptions{})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		if res.ExitCode != 0 || res.Stdout != "Sum: 7\n" || res.Stderr != "" {
			t.Errorf("Exec = exit %d, stdout %q, stderr %q; want exit 0, stdout %q, no stderr",
				res.ExitCode, res.Stdout, res.Stderr, "Sum: 7\n")
		}
	})

	t.Run("WriteFile then ReadFile round-trips bytes exactly", func(t *testing.T) {
		// Binary content, larger than one upload chunk and not a multiple of it.
		want := make([]byte, 2<<20+12345)
		_, _ = rand.Read(want)
		if err := sandbox.WriteFile(ctx, "data/blob.bin", bytes.NewReader(want)); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		var got bytes.Buffer
		if err := sandbox.ReadFile(ctx, "data/blob.bin", &got); err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("ReadFile returned %d bytes that differ from the %d written", got.Len(), len(want))
		}
		// The daemon sees the same bytes.
		res, err := sandbox.Exec(ctx, "wc -c < data/blob.bin", cove.ExecOptions{})
		if err != nil {
			t.Fatalf("Exec wc: %v", err)
		}
		if strings.TrimSpace(res.Stdout) != "2109497" {
			t.Errorf("wc -c in the sandbox = %q, want 2109497", res.Stdout)
		}
		entries, err := sandbox.ListFiles(ctx, "data")
		if err != nil {
			t.Fatalf("ListFiles: %v", err)
		}
		if len(entries) != 1 || entries[0].Name != "blob.bin" || entries[0].Size != int64(len(want)) || entries[0].IsDir() {
			t.Errorf("ListFiles(data) = %+v, want one 2109497-byte file blob.bin", entries)
		}
	})

	t.Run("an empty file round-trips", func(t *testing.T) {
		if err := sandbox.WriteFile(ctx, "/tmp/empty", bytes.NewReader(nil)); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		var got bytes.Buffer
		if err := sandbox.ReadFile(ctx, "/tmp/empty", &got); err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		if got.Len() != 0 {
			t.Errorf("ReadFile of an empty file returned %q", got.String())
		}
	})

	t.Run("Start streams output line by line while the command runs", func(t *testing.T) {
		var out, errOut lineRecorder
		started := time.Now()
		proc, err := sandbox.Start(ctx,
			`for i in 1 2 3 4 5; do echo "line $i"; sleep 1; done; echo done >&2; exit 3`,
			cove.StartOptions{Stdout: &out, Stderr: &errOut})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if proc.PID == 0 {
			t.Error("Start returned no pid")
		}
		res, err := proc.Wait(ctx)
		waited := time.Now()
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if res.ExitCode != 3 {
			t.Errorf("exit code = %d, want 3", res.ExitCode)
		}
		lines, times := out.snapshot()
		want := []string{"line 1", "line 2", "line 3", "line 4", "line 5"}
		if !slices.Equal(lines, want) {
			t.Fatalf("stdout lines = %q, want %q", lines, want)
		}
		if got, _ := errOut.snapshot(); !slices.Equal(got, []string{"done"}) {
			t.Errorf("stderr lines = %q, want [done]", got)
		}
		// The process sleeps ~4 s after its first line: the line must arrive long before the end.
		if lead := waited.Sub(times[0]); lead < 3*time.Second {
			t.Errorf("first line arrived %v after start, only %v before Wait returned; want it streamed, not batched",
				times[0].Sub(started), lead)
		}
		for i := 1; i < len(times); i++ {
			if times[i].Before(times[i-1]) {
				t.Errorf("line %d arrived before line %d", i+1, i)
			}
		}
		// Wait returned after the last byte had been written to the writers.
		if last := times[len(times)-1]; last.After(waited) {
			t.Errorf("last line written %v after Wait returned", last.Sub(waited))
		}
	})

	t.Run("CodeRun runs a python snippet", func(t *testing.T) {
		res, err := sandbox.CodeRun(ctx, "import sys\nprint(sum(range(10)), sys.argv[1])\n", cove.CodeRunOptions{Args: []string{"arg"}})
		if err != nil {
			t.Fatalf("CodeRun: %v", err)
		}
		if res.ExitCode != 0 || res.Stdout != "45 arg\n" {
			t.Errorf("CodeRun = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", res.ExitCode, res.Stdout, res.Stderr, "45 arg\n")
		}
	})

	t.Run("Delete destroys the sandbox", func(t *testing.T) {
		if err := client.Delete(ctx, sandbox.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		deleted = true
		got, err := client.Get(ctx, sandbox.ID)
		switch {
		case errors.Is(err, cove.ErrNotFound):
		case err != nil:
			t.Fatalf("Get after Delete: %v, want ErrNotFound or a DESTROYED sandbox", err)
		case got.State != cove.StateDestroyed:
			t.Errorf("Get after Delete: state %q, want %q", got.State, cove.StateDestroyed)
		}
	})
}

// lineRecorder is an io.Writer that splits what it is given into lines and records when
// each line was completed.
type lineRecorder struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	times   []time.Time
}

func (r *lineRecorder) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		r.lines = append(r.lines, string(r.partial[:i]))
		r.times = append(r.times, now)
		r.partial = r.partial[i+1:]
	}
}

// snapshot returns the complete lines so far and when each arrived.
func (r *lineRecorder) snapshot() ([]string, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines), slices.Clone(r.times)
}
