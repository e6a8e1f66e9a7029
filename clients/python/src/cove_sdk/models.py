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


@dataclass(frozen=True)
class GitCommit:
    """One commit of git.log (newest first)."""

    sha: str
    message: str
    author: str
    email: str
    timestamp: Optional[datetime]
    parents: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GitInitResponse:
    """What git.init did: the repository's path, and whether it already was one."""

    path: str
    reinitialized: bool


# --- code interpreter --------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeContext:
    """A stateful interpreter context (a kernel): state survives from one run_code to the next."""

    id: str
    language: str
    cwd: str
    execution_count: int
    busy: bool
    created_at: Optional[datetime]


@dataclass(frozen=True)
class ChartAxis:
    """One axis of a Chart: its label, matplotlib's scale name and its major ticks."""

    label: str
    #: "linear", "log", "symlog" or "logit".
    scale: str
    ticks: list[float] = field(default_factory=list)
    tick_labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChartSeries:
    """One line, bar group, point set or pie of a Chart (NaN marks gaps)."""

    label: str
    #: x coordinates (bar centres; empty for a pie); dates as matplotlib date numbers.
    x: list[float] = field(default_factory=list)
    #: Names of the x values when they were not numbers: dates in ISO 8601, categories, wedges.
    x_labels: list[str] = field(default_factory=list)
    #: The values: y coordinates, bar lengths, or each pie wedge's fraction (summing to 1).
    y: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    """The data of a chart the code drew (a matplotlib figure with one Axes), E2B's chart."""

    #: "line", "bar", "scatter" or "pie".
    type: str
    title: str
    x_axis: Optional[ChartAxis]
    y_axis: Optional[ChartAxis]
    series: list[ChartSeries] = field(default_factory=list)
    #: True for horizontal bars (barh).
    horizontal: bool = False


@dataclass(frozen=True)
class ExecutionResult:
    """A displayed value (a MIME bundle): the last expression's value, or one shown with display()."""

    is_main_result: bool
    #: Every textual representation by MIME type ("text/plain", "text/html", ...).
    data: dict[str, str] = field(default_factory=dict)
    #: Every binary representation by MIME type ("image/png", ...), as raw bytes.
    binary: dict[str, bytes] = field(default_factory=dict)
    #: The data of a drawn chart, when the sandbox could read it (``png`` holds the image).
    chart: Optional[Chart] = None

    @property
    def text(self) -> Optional[str]:
        """text/plain."""
        return self.data.get("text/plain")

    @property
    def html(self) -> Optional[str]:
        """text/html."""
        return self.data.get("text/html")

    @property
    def markdown(self) -> Optional[str]:
        """text/markdown."""
        return self.data.get("text/markdown")

    @property
    def svg(self) -> Optional[str]:
        """image/svg+xml."""
        return self.data.get("image/svg+xml")

    @property
    def json(self) -> Optional[str]:
        """application/json, as JSON text."""
        return self.data.get("application/json")

    @property
    def png(self) -> Optional[bytes]:
        """image/png bytes."""
        return self.binary.get("image/png")

    @property
    def jpeg(self) -> Optional[bytes]:
        """image/jpeg bytes."""
        return self.binary.get("image/jpeg")


@dataclass(frozen=True)
class ExecutionError:
    """The exception that stopped an execution ("TimeoutError" at the timeout)."""

    name: str
    value: str
    traceback: str


@dataclass(frozen=True)
class Execution:
    """What run_code returns: printed output, displayed results and the error, if any."""

    results: list[ExecutionResult]
    stdout: str
    stderr: str
    error: Optional[ExecutionError]
    execution_count: int
    timed_out: bool
    #: True when more was printed than stdout/stderr kept (callbacks got everything).
    logs_truncated: bool = False

    @property
    def text(self) -> Optional[str]:
        """The main result's text/plain, if there is a main result."""
        for r in self.results:
            if r.is_main_result:
                return r.text
        return None


# --- IAM -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """What an organization may use; 0 means no limit."""

    max_sandboxes: int = 0
    max_started_sandboxes: int = 0
    total_cpu_millicores: int = 0
    total_memory_mib: int = 0
    total_disk_mib: int = 0
    max_sandbox_cpu_millicores: int = 0
    max_sandbox_memory_mib: int = 0
    max_sandbox_disk_mib: int = 0
    max_snapshots: int = 0
    max_volumes: int = 0
    max_api_keys: int = 0
    requests_per_minute: int = 0


@dataclass(frozen=True)
class Usage:
    """What an organization uses now."""

    sandboxes: int
    started_sandboxes: int
    cpu_millicores: int
    memory_mib: int
    disk_mib: int
    snapshots: int
    volumes: int
    api_keys: int
    observed_at: Optional[datetime]


@dataclass(frozen=True)
class Organization:
    """An organization (a tenant). role is the caller's role, when get() knows it."""

    id: str
    name: str
    quota: Quota
    created_at: Optional[datetime]
    updated_at: Optional[datetime]
    role: Optional[str] = None


@dataclass(frozen=True)
class Member:
    """A user's membership: role is "owner", "admin", "member" or "viewer"."""

    organization_id: str
    user_id: str
    email: str
    display_name: str
    role: str
    joined_at: Optional[datetime]


@dataclass(frozen=True)
class ApiKey:
    """An API key (never its secret); state is "active", "expired" or "revoked"."""

    id: str
    organization_id: str
    name: str
    prefix: str
    scopes: list[str]
    state: str
    created_by_user_id: str
    created_at: Optional[datetime]
    expires_at: Optional[datetime]
    last_used_at: Optional[datetime]
    revoked_at: Optional[datetime]


@dataclass(frozen=True)
class CreatedApiKey:
    """A new API key and its secret, which is shown only this once."""

    api_key: ApiKey
    secret: str


@dataclass(frozen=True)
class CreatedMember:
    """What organizations.create_member did; api_key/secret only when scopes were asked for."""

    member: Member
    user_created: bool
    api_key: Optional[ApiKey] = None
    secret: str = ""


@dataclass(frozen=True)
class AuditEvent:
    """One audited change (actor_type "user", "system" or "operator")."""

    id: str
    organization_id: str
    time: Optional[datetime]
    actor_type: str
    user_id: str
    api_key_id: str
    actor_name: str
    method: str
    resource_type: str
    resource_id: str
    code: str
    error_reason: Optional[str]
    request_id: str
    client_ip: str
    user_agent: str
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Position:
    """A position in a document: zero-based line and character (UTF-16 code units), as in LSP."""

    line: int
    character: int


@dataclass(frozen=True)
class Range:
    """A range in a document, end exclusive."""

    start: Position
    end: Position


@dataclass(frozen=True)
class CompletionItem:
    """One completion proposal; kind is LSP's CompletionItemKind (0 for none)."""

    label: str
    kind: int
    detail: str
    documentation: str
    insert_text: str
    sort_text: str
    filter_text: str


@dataclass(frozen=True)
class CompletionList:
    """What completions returns (Daytona's CompletionList)."""

    is_incomplete: bool
    items: list[CompletionItem]


@dataclass(frozen=True)
class LspSymbol:
    """A symbol of a document or the project; kind is LSP's SymbolKind (0 for none)."""

    name: str
    kind: int
    #: The absolute path of the file that defines it.
    path: str
    range: Range
    #: The enclosing symbol's name, or "".
    container_name: str

    @property
    def location(self) -> dict[str, object]:
        """Daytona's form: {"uri": file URI, "range": range}."""
        return {"uri": _file_uri(self.path), "range": self.range}


@dataclass(frozen=True)
class LspLocation:
    """A place in a file (the path, or the server's URI when it is not a file)."""

    path: str
    range: Range


@dataclass(frozen=True)
class HoverInfo:
    """What hover says about a symbol: Markdown (or plain text when markdown is False)."""

    contents: str
    markdown: bool
    range: Optional[Range]


@dataclass(frozen=True)
class LspDiagnostic:
    """One problem; severity is "error", "warning", "information", "hint" or ""."""

    range: Range
    severity: str
    code: str
    source: str
    message: str


@dataclass(frozen=True)
class Diagnostics:
    """What diagnostics returns; current is False when the wait ran out first."""

    diagnostics: list[LspDiagnostic]
    current: bool


@dataclass(frozen=True)
class LspServerInfo:
    """A running language server."""

    id: str
    language_id: str
    root_path: str
    pid: int
    started_at: Optional[datetime]


def _file_uri(path: str) -> str:
    from urllib.parse import quote

    return "file://" + quote(path) if path.startswith("/") else path
