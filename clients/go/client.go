// Package cove is the Go client of Cove, a platform that runs untrusted code in isolated
// sandboxes: create a sandbox, run commands and code in it, stream their output, move files
// in and out, and delete it.
//
//	client, err := cove.New(cove.Options{}) // COVE_API_KEY, COVE_API_URL, COVE_PROXY_URL
//	sandbox, err := client.Create(ctx, cove.CreateOptions{})
//	defer sandbox.Delete(context.Background())
//	res, err := sandbox.Exec(ctx, `python3 -c 'print("Sum:", 3 + 4)'`, cove.ExecOptions{})
//
// Calls speak gRPC (HTTP/2; cleartext h2c for http:// URLs) through connect-go. Every call
// gets a deadline when its context has none; unary calls are retried with jittered backoff
// on Unavailable, ResourceExhausted and Aborted. Failures are *Error values that match the
// Err* sentinels with errors.Is.
package cove

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	sandboxv1 "cove.dev/gen/cove/sandbox/v1"
	"cove.dev/gen/cove/sandbox/v1/sandboxv1connect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds a unary call whose context has no deadline.
	DefaultTimeout = 60 * time.Second
	// DefaultTransferTimeout bounds a file upload or download whose context has no deadline.
	DefaultTransferTimeout = 30 * time.Minute
	// DefaultMaxRetries is how many times a unary call is retried.
	DefaultMaxRetries = 3
	// DefaultWaitTimeout is how long Create, Start, Stop and Delete wait for the sandbox.
	DefaultWaitTimeout = 2 * time.Minute
)

// maxMessageBytes caps every message read or sent, as Cove's servers do.
const maxMessageBytes = 16 << 20

// Options configure a Client; zero fields take the environment or a default.
type Options struct {
	// APIKey authenticates every call. Default: $COVE_API_KEY. Required.
	APIKey string
	// APIURL is the Cove API server, e.g. "https://api.cove.example". Default:
	// $COVE_API_URL, else "http://localhost:3000".
	APIURL string
	// ProxyURL is where toolbox calls (Exec, files, processes, git, code contexts) go.
	// Default: $COVE_PROXY_URL, else the toolbox_url the server reports for each sandbox.
	// What is configured always wins over what the server reports.
	ProxyURL string
	// HTTPClient carries every call; it must speak HTTP/2 (h2c for http:// URLs). Default:
	// a client that does.
	HTTPClient *http.Client
	// Timeout bounds a unary call whose context has no deadline. Default DefaultTimeout.
	Timeout time.Duration
	// TransferTimeout bounds a file transfer whose context has no deadline. Default
	// DefaultTransferTimeout.
	TransferTimeout time.Duration
	// MaxRetries is how many times a failed unary call is retried; negative disables
	// retries. Default DefaultMaxRetries.
	MaxRetries int
}

// Client talks to one Cove installation. It is safe for concurrent use.
type Client struct {
	apiKey          string
	apiURL          string
	proxyURL        string
	httpClient      *http.Client
	timeout         time.Duration
	transferTimeout time.Duration
	retry           retryPolicy
	sandboxes       sandboxv1connect.SandboxServiceClient
}

// New makes a Client from opts, filling empty fields from COVE_API_KEY, COVE_API_URL and
// COVE_PROXY_URL. It returns an error when no API key is configured.
func New(opts Options) (*Client, error) {
	apiKey := firstNonEmpty(opts.APIKey, os.Getenv("COVE_API_KEY"))
	if apiKey == "" {
		return nil, errors.New("cove: no API key (set Options.APIKey or COVE_API_KEY)")
	}
	apiURL := strings.TrimRight(firstNonEmpty(opts.APIURL, os.Getenv("COVE_API_URL"), "http://localhost:3000"), "/")
	c := &Client{
		apiKey:          apiKey,
		apiURL:          apiURL,
		proxyURL:        strings.TrimRight(firstNonEmpty(opts.ProxyURL, os.Getenv("COVE_PROXY_URL")), "/"),
		httpClient:      opts.HTTPClient,
		timeout:         opts.Timeout,
		transferTimeout: opts.TransferTimeout,
		retry:           retryPolicy{maxRetries: opts.MaxRetries, base: 250 * time.Millisecond, max: 5 * time.Second},
	}
	if c.httpClient == nil {
		c.httpClient = newHTTP2Client()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.transferTimeout <= 0 {
		c.transferTimeout = DefaultTransferTimeout
	}
	switch {
	case opts.MaxRetries == 0:
		c.retry.maxRetries = DefaultMaxRetries
	case opts.MaxRetries < 0:
		c.retry.maxRetries = 0
	}
	c.sandboxes = sandboxv1connect.NewSandboxServiceClient(c.httpClient, apiURL, c.clientOptions()...)
	return c, nil
}

// newHTTP2Client returns an HTTP client that speaks only HTTP/2: over TLS for https:// and
// with prior knowledge (h2c) for http://, pinging idle connections so a dead peer is noticed.
func newHTTP2Client() *http.Client {
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols: &protocols,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// clientOptions are the connect-go options of every generated client: gRPC protocol,
// message caps, no compression, and the given headers plus authorization.
//
// Compression is off because connect-go otherwise advertises gzip and Cove's servers then
// gzip every response: for file downloads (often already compressed, or random) that cost
// the daemon one CPU-bound gzip pass per byte and made a 100 MB download 2-5 times slower
// than an uncompressed one, far worse on a busy host. The TypeScript and Python SDKs do the
// same.
func (c *Client) clientOptions(extraHeaders ...string) []connect.ClientOption {
	return []connect.ClientOption{
		connect.WithGRPC(),
		connect.WithAcceptCompression("gzip", nil, nil),
		connect.WithReadMaxBytes(maxMessageBytes),
		connect.WithSendMaxBytes(maxMessageBytes),
		connect.WithInterceptors(newHeaderInterceptor(c.apiKey, extraHeaders...)),
	}
}

// Close releases the idle connections of the client's default HTTP client.
func (c *Client) Close() {
	c.httpClient.CloseIdleConnections()
}

// Resources are a sandbox's CPU, memory and disk limits; zero fields take the server's
// defaults (1000 millicores, 1024 MiB, 3072 MiB).
type Resources struct {
	CPUMillicores int
	MemoryMiB     int
	DiskMiB       int
}

// CreateOptions describe a sandbox to create; the zero value is a sandbox of the server's
// default image (python3, node, git and common tools) with no network.
type CreateOptions struct {
	// Image is an image reference to run, e.g. "python:3.12-slim". Empty means the default.
	Image string
	// Snapshot is a snapshot id or name to run instead of Image.
	Snapshot string
	// Resources are the limits; zero fields take defaults.
	Resources Resources
	// Env holds environment variables for every process in the sandbox.
	Env map[string]string
	// Labels are key/value labels for finding the sandbox with List.
	Labels map[string]string
	// OSUser is the user commands run as. Default "cove".
	OSUser string
	// AutoStop stops the sandbox after this long without activity; nil means the server's
	// default (15 minutes) and a pointer to 0 disables auto-stop.
	AutoStop *time.Duration
	// WaitTimeout is how long to wait for the sandbox to be STARTED. Default
	// DefaultWaitTimeout.
	WaitTimeout time.Duration
	// IdempotencyKey makes the create safe to repeat. Default: a random key per Create call,
	// so the client's own retries never create two sandboxes.
	IdempotencyKey string
}

// Create creates a sandbox and returns it once it is STARTED. A sandbox that fails to start
// returns the *Error matching its error reason; a create that fails after the server made
// the sandbox deletes it (best effort) before returning the error.
func (c *Client) Create(ctx context.Context, opts CreateOptions) (*Sandbox, error) {
	wait := waitTimeout(opts.WaitTimeout)
	req := &sandboxv1.CreateSandboxRequest{
		Resources: &sandboxv1.Resources{
			CpuMillicores: int32(opts.Resources.CPUMillicores),
			MemoryMib:     int32(opts.Resources.MemoryMiB),
			DiskMib:       int32(opts.Resources.DiskMiB),
		},
		Env:            opts.Env,
		Labels:         opts.Labels,
		OsUser:         opts.OSUser,
		Wait:           ptr(true),
		WaitTimeout:    durationpb.New(wait),
		IdempotencyKey: firstNonEmpty(opts.IdempotencyKey, randomKey()),
	}
	switch {
	case opts.Snapshot != "":
		req.Source = &sandboxv1.CreateSandboxRequest_SnapshotId{SnapshotId: opts.Snapshot}
	case opts.Image != "":
		req.Source = &sandboxv1.CreateSandboxRequest_Image{Image: opts.Image}
	}
	if opts.AutoStop != nil {
		req.AutoStopInterval = durationpb.New(*opts.AutoStop)
	}
	started := time.Now()
	res, err := unary(ctx, c, wait+c.timeout, c.sandboxes.CreateSandbox, req)
	if err != nil {
		var coveErr *Error
		if errors.As(err, &coveErr) {
			if id := createdSandboxID(coveErr); id != "" {
				c.discard(id)
			}
		}
		return nil, err
	}
	sb := res.GetSandbox()
	if sb.GetState() != sandboxv1.SandboxState_SANDBOX_STATE_STARTED {
		// The server answered before STARTED: wait here, and leave no sandbox behind that the
		// caller never got.
		sb, err = c.startAndWait(ctx, sb.GetSandboxId(), max(time.Second, wait-time.Since(started)))
		if err != nil {
			c.discard(res.GetSandbox().GetSandboxId())
			return nil, err
		}
	}
	return c.newSandbox(sb), nil
}

// discardTimeout bounds deleting the sandbox of a failed Create.
const discardTimeout = 30 * time.Second

// discard deletes the sandbox of a failed Create, best effort: the create's own error is what
// the caller needs, so this one's is dropped. It does not use the caller's context, which may
// be what ended the create.
func (c *Client) discard(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), discardTimeout)
	defer cancel()
	_, _ = unary(ctx, c, discardTimeout, c.sandboxes.DeleteSandbox, &sandboxv1.DeleteSandboxRequest{SandboxId: id})
}

// createdSandboxID names the sandbox a failed CreateSandbox made, if it made one: the
// ErrorInfo metadata "sandbox_id" (set once the sandbox's row exists), else the "sandboxId" a
// failed wait for STARTED names (ERROR state, timeout, state conflict). An
// IDEMPOTENCY_CONFLICT names another request's sandbox, never this one's.
func createdSandboxID(err *Error) string {
	if id := err.Metadata["sandbox_id"]; id != "" {
		return id
	}
	if err.Reason == "IDEMPOTENCY_CONFLICT" {
		return ""
	}
	return err.Metadata["sandboxId"]
}

// Get returns a sandbox by id; a missing one is ErrNotFound (ErrSandboxNotFound).
func (c *Client) Get(ctx context.Context, id string) (*Sandbox, error) {
	res, err := unary(ctx, c, c.timeout, c.sandboxes.GetSandbox, &sandboxv1.GetSandboxRequest{SandboxId: id})
	if err != nil {
		return nil, err
	}
	return c.newSandbox(res.GetSandbox()), nil
}

// ListOptions filter List.
type ListOptions struct {
	// Labels keeps only sandboxes with all of these labels.
	Labels map[string]string
	// States keeps only sandboxes in one of these states. Empty means every state but
	// DESTROYED.
	States []State
}

// List returns every sandbox of the organization that matches opts, newest first, reading
// all pages.
func (c *Client) List(ctx context.Context, opts ListOptions) ([]*Sandbox, error) {
	req := &sandboxv1.ListSandboxesRequest{PageSize: 500, Labels: opts.Labels}
	for _, s := range opts.States {
		req.States = append(req.States, s.proto())
	}
	var out []*Sandbox
	for {
		res, err := unary(ctx, c, c.timeout, c.sandboxes.ListSandboxes, req)
		if err != nil {
			return nil, err
		}
		for _, sb := range res.GetSandboxes() {
			out = append(out, c.newSandbox(sb))
		}
		if res.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = res.GetNextPageToken()
	}
}

// Start starts a STOPPED (or restores an ARCHIVED) sandbox and returns it once STARTED.
func (c *Client) Start(ctx context.Context, id string) (*Sandbox, error) {
	sb, err := c.startAndWait(ctx, id, DefaultWaitTimeout)
	if err != nil {
		return nil, err
	}
	return c.newSandbox(sb), nil
}

// startAndWait calls StartSandbox and waits up to wait for STARTED (a sandbox on its way
// there, e.g. CREATING, is waited for as it is).
func (c *Client) startAndWait(ctx context.Context, id string, wait time.Duration) (*sandboxv1.Sandbox, error) {
	res, err := unary(ctx, c, wait+c.timeout, c.sandboxes.StartSandbox, &sandboxv1.StartSandboxRequest{
		SandboxId: id, Wait: ptr(true), WaitTimeout: durationpb.New(wait),
	})
	if err != nil {
		return nil, err
	}
	return res.GetSandbox(), nil
}

// Stop stops a STARTED sandbox, keeping its filesystem, and returns it once STOPPED.
func (c *Client) Stop(ctx context.Context, id string) (*Sandbox, error) {
	wait := DefaultWaitTimeout
	res, err := unary(ctx, c, wait+c.timeout, c.sandboxes.StopSandbox, &sandboxv1.StopSandboxRequest{
		SandboxId: id, Wait: ptr(true), WaitTimeout: durationpb.New(wait),
	})
	if err != nil {
		return nil, err
	}
	return c.newSandbox(res.GetSandbox()), nil
}

// Delete destroys a sandbox from any state and returns once it is DESTROYED. Deleting a
// destroyed sandbox succeeds.
func (c *Client) Delete(ctx context.Context, id string) error {
	wait := DefaultWaitTimeout
	_, err := unary(ctx, c, wait+c.timeout, c.sandboxes.DeleteSandbox, &sandboxv1.DeleteSandboxRequest{
		SandboxId: id, Wait: ptr(true), WaitTimeout: durationpb.New(wait),
	})
	return err
}

// waitTimeout is d, or DefaultWaitTimeout when d is not positive, capped at the server's
// maximum of 10 minutes.
func waitTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultWaitTimeout
	}
	return min(d, 10*time.Minute)
}

// randomKey returns 16 random bytes in hex, for idempotency keys.
func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
