"""Plain result and option types the SDK returns and accepts (no Protobuf in the public API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional


@dataclass(frozen=True)
class Resources:
    """Sandbox limits: cpu in cores, memory and disk in GiB; None takes the server default."""

    cpu: Optional[float] = None
    memory: Optional[float] = None
    disk: Optional[float] = None


@dataclass(frozen=True)
class SandboxResources:
    """The limits a sandbox has: CPU in cores, memory and disk in GiB."""

    cpu: float
    memory: float
    disk: float


@dataclass(frozen=True)
class ExecuteResponse:
    """The outcome of process.exec / code_run.

    ``result`` is the standard output (what Daytona's ``result`` holds); ``stdout`` and
    ``stderr`` are kept apart. Output is decoded as UTF-8, invalid bytes replaced.
    """

    exit_code: int
    result: str
    stdout: str
    stderr: str
    timed_out: bool = False
    signal: int = 0
    stdout_truncated: bool = False
    stderr_truncated: bool = False


@dataclass(frozen=True)
class ProcessExit:
    """How a background process ended (process handle wait())."""

    exit_code: int
    signal: int
    status: str
    timed_out: bool
    error: str
    pid: int


@dataclass(frozen=True)
class ProcessInfo:
    """A process started through process.start / code_run_background."""

    pid: int
    tag: str
    command: str
    cwd: str
    running: bool
    exit_code: Optional[int]


@dataclass(frozen=True)
class Session:
    """A persistent shell session."""

    session_id: str
    cwd: str
    user: str
    running_command_id: str
    command_count: int


@dataclass(frozen=True)
class SessionCommand:
    """One command submitted to a session; exit_code is None while it runs."""

    command_id: str
    command: str
    exit_code: Optional[int]
    timed_out: bool


@dataclass(frozen=True)
class SessionExecuteResponse:
    """The outcome of execute_session_command; exit_code is None for run_async commands."""

    cmd_id: str
    exit_code: Optional[int]
    output: str
    stdout: str
    stderr: str
    timed_out: bool = False
    session_reset: bool = False


@dataclass(frozen=True)
class SessionCommandLogs:
    """A session command's output; exit_code is None when it had not ended."""

    stdout: str
    stderr: str
    exit_code: Optional[int]

    @property
    def output(self) -> str:
        """stdout followed by stderr."""
        return self.stdout + self.stderr


@dataclass(frozen=True)
class FileInfo:
    """One filesystem entry in a sandbox. mode is the octal permission string, e.g. "644"."""

    name: str
    path: str
    is_dir: bool
    size: int
    mode: str
    owner: str
    group: str
    mod_time: Optional[datetime]
    type: str
    symlink_target: str = ""


@dataclass(frozen=True)
class Match:
    """One line that find_files matched: file, 1-based line and column, line text."""

    file: str
    line: int
    column: int
    content: str


@dataclass(frozen=True)
class SearchFilesResponse:
    """search_files result: absolute paths matching the glob; incomplete when cut off."""

    files: list[str]
    incomplete: bool = False


@dataclass(frozen=True)
class ReplaceResult:
    """replace_in_files result for one file."""

    file: str
    success: bool
    replacements: int
    error: str = ""
    error_reason: str = ""


@dataclass(frozen=True)
class GitFileStatus:
    """One changed path: staging (index) and worktree states, e.g. "modified", "untracked"."""

    name: str
    staging: str
    worktree: str
    original_path: str = ""


@dataclass(frozen=True)
class GitStatus:
    """A repository's branch, distance to upstream and changed files."""

    current_branch: str
    head_sha: str
    upstream: str
    ahead: int
    behind: int
    file_status: list[GitFileStatus] = field(default_factory=list)


@dataclass(frozen=True)
class GitBranch:
    """A local or remote-tracking branch."""

    name: str
    current: bool
    remote: bool
    commit_sha: str
    upstream: str


@dataclass(frozen=True)
class GitCommitResponse:
    """The commit git.commit created."""

    sha: str


@dataclass(frozen=True)
class PreviewLink:
    """A port's preview URL; private sandboxes need token in header cove-preview-token."""

    url: str
    token: str
    signed_url: str
    expires_at: Optional[datetime]


@dataclass(frozen=True)
class SshAccess:
    """A short-lived SSH login: run ssh_command (the user name is the token)."""

    token: str
    ssh_command: str
    host: str
    port: int
    expires_at: Optional[datetime]
