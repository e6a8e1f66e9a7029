// Command benchdownload times Sandbox.ReadFile of one file for bench/sdk-downloads.ts: it
// reads COVE_API_KEY, COVE_API_URL and COVE_PROXY_URL, downloads <path> from <sandbox id>
// <rounds> times into memory, and prints one JSON line per round: {"seconds":…,"bytes":…}.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"cove.dev/sdk"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: benchdownload <sandbox id> <path> <rounds>")
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rounds:", err)
		os.Exit(2)
	}
	client, err := cove.New(cove.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()
	ctx := context.Background()
	sandbox, err := client.Get(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for range rounds {
		var buf bytes.Buffer
		started := time.Now()
		if err := sandbox.ReadFile(ctx, os.Args[2], &buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		line, _ := json.Marshal(map[string]any{"seconds": time.Since(started).Seconds(), "bytes": buf.Len()})
		fmt.Println(string(line))
	}
}
