"""Git inside the sandbox (no network: the "remote" is a bare repository in the sandbox)."""

from __future__ import annotations

import pytest

from cove_sdk import CoveConflictError, CoveValidationError, Sandbox


def test_clone_change_commit_push_and_pull(sandbox: Sandbox) -> None:
    setup = sandbox.process.exec(
        "rm -rf git-test && mkdir -p git-test && cd git-test"
        " && git init -q --bare -b main origin.git"
        " && git clone -q origin.git seed 2>/dev/null && cd seed"
        " && echo one > README && git add README"
        " && git -c user.name=Seed -c user.email=seed@example.com commit -q -m first"
        " && git push -q origin main"
    )
    assert setup.exit_code == 0, setup.stderr

    git = sandbox.git
    head = git.clone("/home/cove/git-test/origin.git", "git-test/work")
    assert len(head) == 40
    status = git.status("git-test/work")
    assert (status.current_branch, status.head_sha, status.file_status) == ("main", head, [])

    sandbox.fs.upload_file(b"two\n", "git-test/work/NEW.txt")
    assert [(f.name, f.worktree) for f in git.status("git-test/work").file_status] == [("NEW.txt", "untracked")]
    git.add("git-test/work", ["NEW.txt"])
    assert [(f.name, f.staging) for f in git.status("git-test/work").file_status] == [("NEW.txt", "added")]
    commit = git.commit("git-test/work", "add NEW", author="Cove Test", email="test@example.com")
    assert len(commit.sha) == 40 and commit.sha != head
    with pytest.raises(CoveConflictError) as caught:
        git.commit("git-test/work", "nothing staged", author="Cove Test", email="test@example.com")
    assert caught.value.reason == "GIT_FAILED"
    git.push("git-test/work")

    # The seed clone pulls what was pushed.
    assert git.pull("git-test/seed") == commit.sha

    created = git.create_branch("git-test/work", "feature", checkout=True)
    assert created.name == "feature"
    branches = git.branches("git-test/work")
    assert [(b.name, b.current) for b in branches] == [("feature", True), ("main", False)]


def test_dangerous_git_arguments_are_rejected(sandbox: Sandbox) -> None:
    with pytest.raises(CoveValidationError):
        sandbox.git.clone("ext::sh -c touch% /tmp/pwned", "git-test/evil")
    with pytest.raises(CoveValidationError):
        sandbox.git.clone("--upload-pack=touch /tmp/pwned", "git-test/evil")
