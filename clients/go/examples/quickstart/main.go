// Command quickstart shows the Cove Go client end to end: create a sandbox, run Python in
// it, write and read a file, stream a command's output, and delete the sandbox.
//
// It reads COVE_API_KEY, COVE_API_URL and COVE_PROXY_URL from the environment:
//
//	COVE_API_KEY=cove_sk_... COVE_API_URL=http://localhost:3000 \
//	  COVE_PROXY_URL=http://localhost:4000 go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"cove.dev/sdk"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	client, err := cove.New(cove.Options{}) // configuration from the environment
	if err != nil {
		return err
	}
	defer client.Close()

	sandbox, err := client.Create(ctx, cove.CreateOptions{Labels: map[string]string{"example": "quickstart"}})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	fmt.Println("sandbox", sandbox.ID, sandbox.State)
	defer func() {
		// Delete with a fresh context so that it runs even when ctx has expired.
		deleteCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := sandbox.Delete(deleteCtx); err != nil {
			log.Printf("delete: %v", err)
		}
	}()

	res, err := sandbox.Exec(ctx, `python3 -c 'print("Sum:", 3 + 4)'`, cove.ExecOptions{})
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	fmt.Printf("exit %d: %s", res.ExitCode, res.Stdout)

	if err := sandbox.WriteFile(ctx, "hello.txt", strings.NewReader("Hello from Go\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	var content bytes.Buffer
	if err := sandbox.ReadFile(ctx, "hello.txt", &content); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	fmt.Print("hello.txt: ", content.String())

	proc, err := sandbox.Start(ctx, `for i in 1 2 3; do echo "tick $i"; sleep 1; done`,
		cove.StartOptions{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	result, err := proc.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	fmt.Println("streamed command exited with", result.ExitCode)
	return nil
}
