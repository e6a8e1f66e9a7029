package cove_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cove.dev/sdk"
)

// TestConfiguredProxyURLWins: the test server reports http://localhost:4000 as every
// sandbox's toolbox_url, where nothing listens; COVE_PROXY_URL must win over it.
func TestConfiguredProxyURLWins(t *testing.T) {
	t.Setenv("COVE_PROXY_URL", stack.ProxyURL)
	client, err := cove.New(cove.Options{APIKey: stack.AdminKey, APIURL: stack.APIURL})
	if err != nil {
		t.Fatalf("cove.New: %v", err)
	}
	t.Cleanup(client.Close)
	sandbox := newSandbox(t, client)
	if sandbox.Raw.GetToolboxUrl() == stack.ProxyURL {
		t.Fatalf("the server reported the real proxy URL; the test proves nothing")
	}
	res, err := sandbox.Exec(testContext(t), "echo via env", cove.ExecOptions{})
	if err != nil || res.Stdout != "via env\n" {
		t.Fatalf("Exec through COVE_PROXY_URL = %+v, %v", res, err)
	}
}

// recordingTransport remembers the grpc-encoding of every response.
type recordingTransport struct {
	base      http.RoundTripper
	mu        sync.Mutex
	encodings []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.base.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.encodings = append(r.encodings, req.URL.Path+" "+res.Header.Get("Grpc-Encoding"))
		r.mu.Unlock()
	}
	return res, err
}

// TestDownloadsAreNotCompressed: a client that advertises gzip makes the daemon gzip every
// file chunk (4-5x slower downloads); the client must not.
func TestDownloadsAreNotCompressed(t *testing.T) {
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	rec := &recordingTransport{base: &http.Transport{Protocols: &protocols}}
	client := newClient(t, cove.Options{HTTPClient: &http.Client{Transport: rec}})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)
	data := bytes.Repeat([]byte("compressible text "), 100_000)
	if err := sandbox.WriteFile(ctx, "plain.txt", bytes.NewReader(data)); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	var got bytes.Buffer
	if err := sandbox.ReadFile(ctx, "plain.txt", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("ReadFile: %d bytes, %v", got.Len(), err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.encodings {
		if strings.HasSuffix(e, "gzip") {
			t.Errorf("response compressed: %s", e)
		}
	}
	if !slices.ContainsFunc(rec.encodings, func(e string) bool { return strings.Contains(e, "/ReadFile") }) {
		t.Errorf("no ReadFile response recorded: %v", rec.encodings)
	}
}

// TestFailedCreateLeavesNoSandbox: a create that fails after the server made the sandbox
// (here: an image the runner does not have) deletes it.
func TestFailedCreateLeavesNoSandbox(t *testing.T) {
	client := newClient(t, cove.Options{})
	ctx := testContext(t)
	labels := map[string]string{"suite": "go-sdk", "case": "create-cleanup"}
	_, err := client.Create(ctx, cove.CreateOptions{Image: "cove/no-such-image:never", Labels: labels})
	var coveErr *cove.Error
	if !errors.As(err, &coveErr) || coveErr.Reason != "IMAGE_NOT_FOUND" {
		t.Fatalf("Create = %v, want IMAGE_NOT_FOUND", err)
	}
	id := coveErr.Metadata["sandbox_id"]
	if id == "" {
		id = coveErr.Metadata["sandboxId"]
	}
	got, err := client.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get %q: %v", id, err)
	}
	if got.State != cove.StateDestroying && got.State != cove.StateDestroyed {
		t.Errorf("the failed create's sandbox is %s, want it deleted", got.State)
	}
}

func TestUploadFileFromPathAndDownloadFileToPath(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "local.bin")
	want := bytes.Repeat([]byte{0, 1, 2, 250}, 700_000)
	if err := os.WriteFile(local, want, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.UploadFileFromPath(ctx, local, "from-path/local.bin"); err != nil {
		t.Fatalf("UploadFileFromPath: %v", err)
	}
	back := filepath.Join(dir, "back.bin")
	if err := sandbox.DownloadFileToPath(ctx, "from-path/local.bin", back); err != nil {
		t.Fatalf("DownloadFileToPath: %v", err)
	}
	if got, _ := os.ReadFile(back); !bytes.Equal(got, want) {
		t.Errorf("round trip through local paths changed the bytes (%d of %d)", len(got), len(want))
	}
	if err := sandbox.UploadFileFromPath(ctx, filepath.Join(dir, "missing"), "never"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("UploadFileFromPath of a missing file = %v, want os.ErrNotExist", err)
	}
	if err := sandbox.UploadFileFromPath(ctx, dir, "never"); err == nil {
		t.Errorf("UploadFileFromPath of a directory succeeded")
	}
	if err := sandbox.DownloadFileToPath(ctx, "no/such/file", back); !errors.Is(err, cove.ErrFileNotFound) {
		t.Errorf("DownloadFileToPath of a missing file = %v, want ErrFileNotFound", err)
	}
	if got, _ := os.ReadFile(back); !bytes.Equal(got, want) {
		t.Errorf("a failed download changed the local file")
	}
}

func TestGitInitAndLog(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)
	git := sandbox.Git()
	made, err := git.Init(ctx, "repo", cove.GitInitOptions{})
	if err != nil || made.Path != "/home/cove/repo" || made.Reinitialized {
		t.Fatalf("Init = %+v, %v", made, err)
	}
	if err := sandbox.WriteFile(ctx, "repo/a.txt", strings.NewReader("one\n")); err != nil {
		t.Fatal(err)
	}
	if err := git.Add(ctx, "repo", "."); err != nil {
		t.Fatalf("Add: %v", err)
	}
	first, err := git.Commit(ctx, "repo", "first", cove.GitCommitOptions{AuthorName: "A", AuthorEmail: "a@example.com"})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	second, err := git.Commit(ctx, "repo", "second", cove.GitCommitOptions{AuthorName: "B", AuthorEmail: "b@example.com", AllowEmpty: true})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	log, err := git.Log(ctx, "repo", cove.GitLogOptions{})
	if err != nil || len(log) != 2 {
		t.Fatalf("Log = %+v, %v", log, err)
	}
	if log[0].SHA != second || strings.TrimSpace(log[0].Message) != "second" || !slices.Equal(log[0].Parents, []string{first}) ||
		log[1].SHA != first || log[1].AuthorName != "A" || time.Since(log[1].AuthorTime) > time.Hour {
		t.Errorf("Log = %+v", log)
	}
	if one, _ := git.Log(ctx, "repo", cove.GitLogOptions{Limit: 1}); len(one) != 1 {
		t.Errorf("Log with limit 1 = %d commits", len(one))
	}
	status, err := git.Status(ctx, "repo")
	if err != nil || status.Branch != "main" || status.HeadSHA != second || len(status.Files) != 0 {
		t.Errorf("Status = %+v, %v", status, err)
	}
	if again, _ := git.Init(ctx, "repo", cove.GitInitOptions{}); again == nil || !again.Reinitialized {
		t.Errorf("a second Init = %+v, want reinitialized", again)
	}
	if _, err := git.Init(ctx, "--template=/tmp/x", cove.GitInitOptions{}); !errors.Is(err, cove.ErrInvalidArgument) {
		t.Errorf("Init of a path starting with - = %v, want ErrInvalidArgument", err)
	}
}

func TestCodeInterpreter(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)
	ci := sandbox.CodeInterpreter()
	cc, err := ci.CreateContext(ctx, cove.CreateContextOptions{Cwd: "/tmp"})
	if err != nil || cc.Language != cove.Python || cc.Cwd != "/tmp" {
		t.Fatalf("CreateContext = %+v, %v", cc, err)
	}
	if _, err := ci.RunCode(ctx, "x = 41", cove.RunCodeOptions{ContextID: cc.ID}); err != nil {
		t.Fatalf("RunCode: %v", err)
	}
	var printed strings.Builder
	run, err := ci.RunCode(ctx, "import os\nprint('out', os.getcwd())\nx + 1", cove.RunCodeOptions{
		ContextID: cc.ID, OnStdout: func(s string) { printed.WriteString(s) },
	})
	if err != nil || run.Text() != "42" || run.Stdout != "out /tmp\n" || printed.String() != run.Stdout || run.ExecutionCount != 2 || run.Error != nil {
		t.Fatalf("RunCode = %+v, %v", run, err)
	}
	failed, err := ci.RunCode(ctx, "1/0", cove.RunCodeOptions{ContextID: cc.ID})
	if err != nil || failed.Error == nil || failed.Error.Name != "ZeroDivisionError" || !strings.Contains(failed.Error.Traceback, "ZeroDivisionError") {
		t.Fatalf("RunCode(1/0) = %+v, %v", failed, err)
	}
	slow, err := ci.RunCode(ctx, "import time\ntime.sleep(30)", cove.RunCodeOptions{ContextID: cc.ID, Timeout: time.Second})
	if err != nil || !slow.TimedOut || slow.Error == nil || slow.Error.Name != "TimeoutError" {
		t.Fatalf("a timed-out RunCode = %+v, %v", slow, err)
	}
	go func() {
		time.Sleep(time.Second)
		_ = ci.Interrupt(ctx, cc.ID)
	}()
	looped, err := ci.RunCode(ctx, "import time\nwhile True: time.sleep(0.1)", cove.RunCodeOptions{ContextID: cc.ID})
	if err != nil || looped.Error == nil || looped.Error.Name != "KeyboardInterrupt" {
		t.Fatalf("an interrupted RunCode = %+v, %v", looped, err)
	}
	if kept, _ := ci.RunCode(ctx, "x", cove.RunCodeOptions{ContextID: cc.ID}); kept == nil || kept.Text() != "41" {
		t.Errorf("the context lost its state: %+v", kept)
	}
	all, err := ci.ListContexts(ctx)
	if err != nil || !slices.ContainsFunc(all, func(c *cove.CodeContext) bool { return c.ID == cc.ID }) {
		t.Errorf("ListContexts = %v, %v", all, err)
	}
	if err := ci.DeleteContext(ctx, cc.ID); err != nil {
		t.Fatalf("DeleteContext: %v", err)
	}
	if _, err := ci.RunCode(ctx, "1", cove.RunCodeOptions{ContextID: cc.ID}); !errors.Is(err, cove.ErrNotFound) {
		t.Errorf("RunCode in a deleted context = %v, want ErrNotFound", err)
	}
}

func TestIAM(t *testing.T) {
	admin := newClient(t, cove.Options{})
	ctx := testContext(t)
	orgs := admin.Organizations()
	own, err := orgs.Get(ctx, "")
	if err != nil || own.Role != cove.RoleOwner {
		t.Fatalf("Get = %+v, %v", own, err)
	}
	email := fmt.Sprintf("go-ada-%d@example.test", os.Getpid())
	made, err := orgs.CreateMember(ctx, cove.CreateMemberOptions{
		Email: email, Role: cove.RoleMember, DisplayName: "Ada", APIKeyScopes: []string{"sandboxes:read", "organization:read"},
	})
	if err != nil || !made.UserCreated || made.Member.Role != cove.RoleMember || made.APIKey == nil || !strings.HasPrefix(made.Secret, "cove_sk_") {
		t.Fatalf("CreateMember = %+v, %v", made, err)
	}
	ada := newClient(t, cove.Options{APIKey: made.Secret})
	if got, err := ada.Organizations().Get(ctx, ""); err != nil || got.Role != cove.RoleMember {
		t.Errorf("the new member's Get = %+v, %v", got, err)
	}
	if _, err := ada.List(ctx, cove.ListOptions{}); err != nil {
		t.Errorf("the new member's key cannot list sandboxes: %v", err)
	}
	if _, err := ada.Audit().List(ctx, cove.AuditFilter{}); !errors.Is(err, cove.ErrPermissionDenied) {
		t.Errorf("a member reading the audit log = %v, want ErrPermissionDenied", err)
	}
	if _, err := orgs.CreateMember(ctx, cove.CreateMemberOptions{Email: email, Role: cove.RoleViewer}); !errors.Is(err, cove.ErrAlreadyExists) {
		t.Errorf("CreateMember twice = %v, want ErrAlreadyExists", err)
	}
	members, err := orgs.ListMembers(ctx, "")
	if err != nil || !slices.ContainsFunc(members, func(m *cove.Member) bool { return m.Email == email }) {
		t.Errorf("ListMembers = %v, %v", members, err)
	}
	events, err := admin.Audit().List(ctx, cove.AuditFilter{Method: "cove.iam.v1.OrganizationService/CreateMember", Limit: 10})
	if err != nil || !slices.ContainsFunc(events, func(e *cove.AuditEvent) bool { return e.ResourceID == made.Member.UserID && e.Code == "OK" }) {
		t.Errorf("audit events = %v, %v", events, err)
	}
	if err := orgs.RemoveMember(ctx, "", made.Member.UserID); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if _, err := ada.Organizations().Get(ctx, ""); !errors.Is(err, cove.ErrUnauthenticated) {
		t.Errorf("a removed member's key = %v, want ErrUnauthenticated", err)
	}

	keys := admin.APIKeys()
	key, secret, err := keys.Create(ctx, cove.CreateAPIKeyOptions{Name: "go-ci", Scopes: []string{"sandboxes:read"}, ExpireTime: time.Now().Add(time.Hour)})
	if err != nil || key.State != "active" || !strings.HasPrefix(secret, key.Prefix) || key.ExpireTime.Before(time.Now()) {
		t.Fatalf("Create = %+v, %v", key, err)
	}
	ci := newClient(t, cove.Options{APIKey: secret})
	if _, err := ci.List(ctx, cove.ListOptions{}); err != nil {
		t.Fatalf("the new key cannot list: %v", err)
	}
	if revoked, err := keys.Revoke(ctx, key.ID); err != nil || revoked.State != "revoked" {
		t.Fatalf("Revoke = %+v, %v", revoked, err)
	}
	if _, err := ci.List(ctx, cove.ListOptions{}); !errors.Is(err, cove.ErrUnauthenticated) {
		t.Errorf("a revoked key = %v, want ErrUnauthenticated", err)
	}
	listed, err := keys.List(ctx, "revoked")
	if err != nil || !slices.ContainsFunc(listed, func(k *cove.APIKey) bool { return k.ID == key.ID }) {
		t.Errorf("List(revoked) = %v, %v", listed, err)
	}
	quota, usage, err := orgs.GetUsage(ctx, "")
	if err != nil || quota.GetMaxSandboxes() == 0 || usage.GetApiKeys() == 0 {
		t.Errorf("GetUsage = %v %v %v", quota, usage, err)
	}
}
