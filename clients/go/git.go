package cove

import (
	"context"
	"strings"
	"time"

	toolboxv1 "cove.dev/gen/cove/toolbox/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// gitNetworkTimeout is how long Clone may take unless the context says otherwise (the
// daemon's default for network operations).
const gitNetworkTimeout = 10 * time.Minute

// Git works with repositories inside one sandbox (Sandbox.Git). Paths are the repository's
// work tree; relative paths resolve against the user's home directory. git runs with an argv,
// never a shell, and the daemon refuses URLs, refs and paths that could smuggle options.
type Git struct {
	sandbox *Sandbox
}

// Git returns the sandbox's git API.
func (s *Sandbox) Git() *Git { return &Git{sandbox: s} }

// GitInitOptions tune Init.
type GitInitOptions struct {
	// InitialBranch names the first branch. Default "main".
	InitialBranch string
	// Bare makes a repository without a work tree.
	Bare bool
}

// GitInitResult says what Init did.
type GitInitResult struct {
	// Path is the repository's absolute path.
	Path string
	// Reinitialized is true when path already was a repository (nothing was changed).
	Reinitialized bool
}

// Init makes an empty repository at path, creating missing directories.
func (g *Git) Init(ctx context.Context, path string, opts GitInitOptions) (*GitInitResult, error) {
	c := g.sandbox.client
	res, err := unary(ctx, c, c.timeout, g.sandbox.git.Init, &toolboxv1.InitRequest{
		Path: path, InitialBranch: opts.InitialBranch, Bare: opts.Bare,
	})
	if err != nil {
		return nil, err
	}
	return &GitInitResult{Path: res.GetPath(), Reinitialized: res.GetReinitialized()}, nil
}

// GitCloneOptions tune Clone.
type GitCloneOptions struct {
	// Branch checks out this branch or tag instead of the remote's default.
	Branch string
	// Commit checks out this commit afterwards (detached HEAD).
	Commit string
	// Depth makes a shallow clone of this many commits; 0 means full history.
	Depth int
	// Username and Password authenticate over HTTP(S); never stored in the repository.
	Username, Password string
	// Timeout bounds the clone. Default 10 minutes.
	Timeout time.Duration
}

// Clone clones url into path and returns the checked-out commit's hash.
func (g *Git) Clone(ctx context.Context, url, path string, opts GitCloneOptions) (string, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = gitNetworkTimeout
	}
	req := &toolboxv1.CloneRequest{
		Url: url, Path: path, Branch: opts.Branch, Commit: opts.Commit, Depth: int32(opts.Depth),
		Timeout: durationpb.New(timeout),
	}
	if opts.Username != "" || opts.Password != "" {
		req.Credentials = &toolboxv1.GitCredentials{Username: opts.Username, Password: opts.Password}
	}
	// A clone has side effects: it is not retried after Unavailable.
	res, err := once(ctx, g.sandbox.client, timeout+g.sandbox.client.timeout, g.sandbox.git.Clone, req)
	if err != nil {
		return "", err
	}
	return res.GetHeadSha(), nil
}

// GitFileStatus is one changed path of Status.
type GitFileStatus struct {
	// Path is relative to the repository root.
	Path string
	// Staged and Unstaged are the index and work tree states: "modified", "added",
	// "deleted", "renamed", "copied", "type_changed", "untracked", "conflicted" or
	// "unmodified".
	Staged, Unstaged string
	// OriginalPath is the source of a rename or copy.
	OriginalPath string
}

// GitStatus is the state of a work tree.
type GitStatus struct {
	// Branch is the current branch; empty on a detached HEAD.
	Branch string
	// HeadSHA is HEAD's hash; empty before the first commit.
	HeadSHA string
	// Upstream is e.g. "origin/main", or empty.
	Upstream string
	// Ahead and Behind count commits relative to Upstream.
	Ahead, Behind int
	// Files are the changed, untracked and conflicted paths.
	Files []GitFileStatus
}

func gitState(s toolboxv1.GitFileState) string {
	if s == toolboxv1.GitFileState_GIT_FILE_STATE_UNSPECIFIED {
		return "unmodified"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "GIT_FILE_STATE_"))
}

// Status reports the current branch, its distance to the upstream, and changed paths.
func (g *Git) Status(ctx context.Context, path string) (*GitStatus, error) {
	c := g.sandbox.client
	res, err := unary(ctx, c, c.timeout, g.sandbox.git.Status, &toolboxv1.StatusRequest{Path: path})
	if err != nil {
		return nil, err
	}
	out := &GitStatus{
		Branch: res.GetBranch(), HeadSHA: res.GetHeadSha(), Upstream: res.GetUpstream(),
		Ahead: int(res.GetAhead()), Behind: int(res.GetBehind()),
	}
	for _, f := range res.GetFiles() {
		out.Files = append(out.Files, GitFileStatus{
			Path: f.GetPath(), Staged: gitState(f.GetStaged()), Unstaged: gitState(f.GetUnstaged()),
			OriginalPath: f.GetOriginalPath(),
		})
	}
	return out, nil
}

// Add stages paths (relative to the repository root; "." for everything), deletions included.
func (g *Git) Add(ctx context.Context, path string, paths ...string) error {
	c := g.sandbox.client
	_, err := unary(ctx, c, c.timeout, g.sandbox.git.Add, &toolboxv1.AddRequest{Path: path, Paths: paths})
	return err
}

// GitCommitOptions tune Commit.
type GitCommitOptions struct {
	// AuthorName and AuthorEmail name the author (and committer); empty takes git's
	// configured identity, else the sandbox user's.
	AuthorName, AuthorEmail string
	// AllowEmpty records a commit without changes.
	AllowEmpty bool
}

// Commit records the staged changes and returns the new commit's hash.
func (g *Git) Commit(ctx context.Context, path, message string, opts GitCommitOptions) (string, error) {
	c := g.sandbox.client
	res, err := once(ctx, c, c.timeout, g.sandbox.git.Commit, &toolboxv1.CommitRequest{
		Path: path, Message: message, AuthorName: opts.AuthorName, AuthorEmail: opts.AuthorEmail,
		AllowEmpty: opts.AllowEmpty,
	})
	if err != nil {
		return "", err
	}
	return res.GetSha(), nil
}

// GitCommit is one commit of Log.
type GitCommit struct {
	// SHA is the full hash.
	SHA string
	// Message is the full commit message.
	Message string
	// AuthorName and AuthorEmail name the author.
	AuthorName, AuthorEmail string
	// AuthorTime is when it was authored.
	AuthorTime time.Time
	// Parents are the parents' hashes (none for a root commit).
	Parents []string
}

// GitLogOptions tune Log.
type GitLogOptions struct {
	// Ref is where to start. Default HEAD.
	Ref string
	// Limit is the most commits returned. 0 means 50; at most 1000.
	Limit int
}

// Log lists the commits reachable from a ref, newest first.
func (g *Git) Log(ctx context.Context, path string, opts GitLogOptions) ([]GitCommit, error) {
	c := g.sandbox.client
	res, err := unary(ctx, c, c.timeout, g.sandbox.git.Log, &toolboxv1.LogRequest{
		Path: path, Ref: opts.Ref, Limit: int32(opts.Limit),
	})
	if err != nil {
		return nil, err
	}
	out := make([]GitCommit, 0, len(res.GetCommits()))
	for _, cm := range res.GetCommits() {
		out = append(out, GitCommit{
			SHA: cm.GetSha(), Message: cm.GetMessage(), AuthorName: cm.GetAuthorName(),
			AuthorEmail: cm.GetAuthorEmail(), AuthorTime: cm.GetAuthorTime().AsTime(),
			Parents: cm.GetParentShas(),
		})
	}
	return out, nil
}

// GitBranch is a branch of Branches.
type GitBranch struct {
	// Name is e.g. "main", or "origin/main" for a remote-tracking branch.
	Name string
	// Current is true for the checked-out branch.
	Current bool
	// Remote is true for a remote-tracking branch.
	Remote bool
	// CommitSHA is the branch's tip.
	CommitSHA string
}

// Branches lists local branches (and remote-tracking ones when includeRemote).
func (g *Git) Branches(ctx context.Context, path string, includeRemote bool) ([]GitBranch, error) {
	c := g.sandbox.client
	res, err := unary(ctx, c, c.timeout, g.sandbox.git.ListBranches, &toolboxv1.ListBranchesRequest{
		Path: path, IncludeRemote: includeRemote,
	})
	if err != nil {
		return nil, err
	}
	var out []GitBranch
	for _, b := range res.GetBranches() {
		out = append(out, GitBranch{Name: b.GetName(), Current: b.GetCurrent(), Remote: b.GetRemote(), CommitSHA: b.GetCommitSha()})
	}
	return out, nil
}

// Checkout switches to a branch, tag or commit and returns the new HEAD's hash.
func (g *Git) Checkout(ctx context.Context, path, ref string) (string, error) {
	c := g.sandbox.client
	res, err := unary(ctx, c, c.timeout, g.sandbox.git.Checkout, &toolboxv1.CheckoutRequest{Path: path, Ref: ref})
	if err != nil {
		return "", err
	}
	return res.GetHeadSha(), nil
}
