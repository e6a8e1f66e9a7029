"""Request builders and response converters shared by the sync and asyncio clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from cove.errors.v1 import error_reason_pb2
from cove.sandbox.v1 import sandbox_pb2, sandbox_service_pb2
from cove.toolbox.v1 import (
    filesystem_pb2,
    filesystem_service_pb2,
    git_pb2,
    git_service_pb2,
    language_pb2,
    process_pb2,
    process_service_pb2,
)
from google.protobuf import duration_pb2

from ._transport import DEADLINE_MARGIN_S
from .errors import CoveError, CoveValidationError
from .models import (
    ExecuteResponse,
    FileInfo,
    GitBranch,
    GitCommit,
    GitFileStatus,
    GitStatus,
    Match,
    PreviewLink,
    ProcessExit,
    ProcessInfo,
    ReplaceResult,
    Resources,
    SandboxResources,
    Session,
    SessionCommand,
    SessionExecuteResponse,
    SshAccess,
)

_LANGUAGES = {
    "python": language_pb2.CODE_LANGUAGE_PYTHON,
    "javascript": language_pb2.CODE_LANGUAGE_JAVASCRIPT,
    "typescript": language_pb2.CODE_LANGUAGE_TYPESCRIPT,
}


def reason_name(value: int) -> Optional[str]:
    """The ErrorReason name of a value without its prefix ("SANDBOX_NOT_FOUND"), None for 0 or unknown."""
    if not value:
        return None
    try:
        return error_reason_pb2.ErrorReason.Name(value).removeprefix("ERROR_REASON_")
    except ValueError:
        return None


def duration(seconds: Optional[float]) -> Optional[duration_pb2.Duration]:
    """Returns a Duration for seconds, or None to leave the field unset."""
    if seconds is None:
        return None
    if seconds < 0:
        raise CoveValidationError(f"negative duration: {seconds}")
    out = duration_pb2.Duration()
    out.FromTimedelta(timedelta(seconds=seconds))
    return out


def time_of(message: Any, name: str) -> Optional[datetime]:
    """Returns a Timestamp field as an aware datetime, or None when unset."""
    if not message.HasField(name):
        return None
    return getattr(message, name).ToDatetime(tzinfo=timezone.utc)


def text(data: bytes) -> str:
    """Decodes captured output as UTF-8, replacing invalid bytes."""
    return data.decode("utf-8", errors="replace")


def state_name(value: int) -> str:
    """Returns a SandboxState as a lower-case word, e.g. "started"."""
    return sandbox_pb2.SandboxState.Name(value).removeprefix("SANDBOX_STATE_").lower()


def language(name: str) -> int:
    """Maps "python" / "javascript" / "typescript" to the CodeLanguage enum."""
    try:
        return _LANGUAGES[name.lower()]
    except KeyError:
        raise CoveValidationError(
            f"unknown language {name!r}: choose one of {sorted(_LANGUAGES)}"
        ) from None


def selector(pid_or_tag: Union[int, str]) -> process_pb2.ProcessSelector:
    """Selects a process by pid (int) or tag (str)."""
    if isinstance(pid_or_tag, bool):
        raise CoveValidationError("a process is selected by pid (int) or tag (str)")
    if isinstance(pid_or_tag, int):
        return process_pb2.ProcessSelector(pid=pid_or_tag)
    return process_pb2.ProcessSelector(tag=pid_or_tag)


def octal_mode(mode: Union[str, int, None]) -> Optional[int]:
    """Accepts "755", "0o755" or an int; returns the permission bits."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode
    try:
        return int(mode.removeprefix("0o"), 8)
    except ValueError:
        raise CoveValidationError(f"mode {mode!r} is not an octal permission string") from None


# --- sandboxes -------------------------------------------------------------------------------


def resources_proto(resources: Union[Resources, Mapping[str, Any], None]) -> Optional[sandbox_pb2.Resources]:
    """Converts cores / GiB into the proto's millicores / MiB."""
    if resources is None:
        return None
    if isinstance(resources, Mapping):
        resources = Resources(**resources)
    return sandbox_pb2.Resources(
        cpu_millicores=round((resources.cpu or 0) * 1000),
        memory_mib=round((resources.memory or 0) * 1024),
        disk_mib=round((resources.disk or 0) * 1024),
    )


def create_request(
    *,
    image: Optional[str],
    snapshot: Optional[str],
    resources: Union[Resources, Mapping[str, Any], None],
    env: Optional[Mapping[str, str]],
    labels: Optional[Mapping[str, str]],
    public: bool,
    os_user: Optional[str],
    auto_stop_interval: Optional[int],
    auto_archive_interval: Optional[int],
    auto_delete_interval: Optional[int],
    network_allow_all: bool,
    timeout: float,
) -> sandbox_service_pb2.CreateSandboxRequest:
    """Builds CreateSandbox with wait, and an idempotency key so retries never make two."""
    if image and snapshot:
        raise CoveValidationError("give image or snapshot, not both")
    request = sandbox_service_pb2.CreateSandboxRequest(
        env=dict(env or {}),
        labels=dict(labels or {}),
        public=public,
        os_user=os_user or "",
        wait=True,
        wait_timeout=duration(min(timeout, 600.0)),
        idempotency_key=f"py-{uuid.uuid4()}",
    )
    if image:
        request.image = image
    if snapshot:
        request.snapshot_id = snapshot
    proto_resources = resources_proto(resources)
    if proto_resources is not None:
        request.resources.CopyFrom(proto_resources)
    for name, minutes in (
        ("auto_stop_interval", auto_stop_interval),
        ("auto_archive_interval", auto_archive_interval),
        ("auto_delete_interval", auto_delete_interval),
    ):
        if minutes is not None:
            getattr(request, name).CopyFrom(duration(minutes * 60.0))
    if network_allow_all:
        request.network_policy.mode = sandbox_pb2.NETWORK_POLICY_MODE_ALLOW_ALL
    return request


def sandbox_resources(message: sandbox_pb2.Resources) -> SandboxResources:
    """Converts the proto's millicores / MiB into cores / GiB."""
    return SandboxResources(
        cpu=message.cpu_millicores / 1000,
        memory=message.memory_mib / 1024,
        disk=message.disk_mib / 1024,
    )


def preview_link(res: sandbox_service_pb2.CreatePreviewUrlResponse) -> PreviewLink:
    """Converts CreatePreviewUrlResponse."""
    return PreviewLink(
        url=res.url, token=res.token, signed_url=res.signed_url, expires_at=time_of(res, "expire_time")
    )


def ssh_access(res: sandbox_service_pb2.CreateSshAccessResponse) -> SshAccess:
    """Converts CreateSshAccessResponse."""
    return SshAccess(
        token=res.token,
        ssh_command=res.ssh_command,
        host=res.host,
        port=res.port,
        expires_at=time_of(res, "expire_time"),
    )


# --- processes -------------------------------------------------------------------------------


def exec_request(
    command: str, cwd: Optional[str], env: Optional[Mapping[str, str]], timeout: Optional[float]
) -> process_service_pb2.ExecRequest:
    """Builds ExecRequest; timeout None means the daemon's default (60 s), 0 none."""
    request = process_service_pb2.ExecRequest(command=command, cwd=cwd or "", env=dict(env or {}))
    if timeout is not None:
        request.timeout.CopyFrom(duration(timeout))
    return request


def code_run_request(
    code: str,
    language_name: str,
    argv: Optional[list[str]],
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
    timeout: Optional[float],
) -> process_service_pb2.CodeRunRequest:
    """Builds CodeRunRequest (the language is always sent explicitly)."""
    request = process_service_pb2.CodeRunRequest(
        language=language(language_name),
        code=code,
        argv=list(argv or []),
        env=dict(env or {}),
        cwd=cwd or "",
    )
    if timeout is not None:
        request.timeout.CopyFrom(duration(timeout))
    return request


def command_deadline(timeout: Optional[float], default: float) -> float:
    """The call deadline for a command with a server-side timeout (None = daemon's 60 s)."""
    server = 60.0 if timeout is None else (timeout if timeout > 0 else 24 * 3600.0)
    return max(default, server + DEADLINE_MARGIN_S)


def execute_response(res: Any) -> ExecuteResponse:
    """Converts ExecResponse or CodeRunResponse."""
    stdout = text(res.stdout)
    return ExecuteResponse(
        exit_code=res.exit_code,
        result=stdout,
        stdout=stdout,
        stderr=text(res.stderr),
        timed_out=res.timed_out,
        signal=getattr(res, "signal", 0),
        stdout_truncated=res.stdout_truncated,
        stderr_truncated=res.stderr_truncated,
    )


def start_request(
    command: str,
    cwd: Optional[str],
    env: Optional[Mapping[str, str]],
    tag: Optional[str],
    timeout: Optional[float],
    open_stdin: bool,
) -> process_service_pb2.StartRequest:
    """Builds StartRequest; the process outlives the stream (kill_on_disconnect false)."""
    request = process_service_pb2.StartRequest(
        command=command, cwd=cwd or "", env=dict(env or {}), tag=tag or "", open_stdin=open_stdin
    )
    if timeout is not None:
        request.timeout.CopyFrom(duration(timeout))
    return request


def process_exit(end: process_pb2.ProcessEnd, pid: int) -> ProcessExit:
    """Converts ProcessEnd."""
    return ProcessExit(
        exit_code=end.exit_code,
        signal=end.signal,
        status=end.status,
        timed_out=end.timed_out,
        error=end.error,
        pid=pid,
    )


def process_info(info: process_pb2.ProcessInfo) -> ProcessInfo:
    """Converts ProcessInfo."""
    return ProcessInfo(
        pid=info.pid,
        tag=info.tag,
        command=info.command,
        cwd=info.cwd,
        running=info.state == process_pb2.PROCESS_STATE_RUNNING,
        exit_code=info.exit_code if info.HasField("exit_code") else None,
    )


def session(message: process_pb2.Session) -> Session:
    """Converts Session."""
    return Session(
        session_id=message.session_id,
        cwd=message.cwd,
        user=message.user,
        running_command_id=message.running_command_id,
        command_count=message.command_count,
    )


def session_command(message: process_pb2.SessionCommand) -> SessionCommand:
    """Converts SessionCommand."""
    return SessionCommand(
        command_id=message.command_id,
        command=message.command,
        exit_code=message.exit_code if message.HasField("exit_code") else None,
        timed_out=message.timed_out,
    )


def session_execute_response(res: process_service_pb2.SessionExecuteResponse) -> SessionExecuteResponse:
    """Converts SessionExecuteResponse; output is stdout followed by stderr."""
    stdout, stderr = text(res.stdout), text(res.stderr)
    return SessionExecuteResponse(
        cmd_id=res.command_id,
        exit_code=res.exit_code if res.HasField("exit_code") else None,
        output=stdout + stderr,
        stdout=stdout,
        stderr=stderr,
        timed_out=res.timed_out,
        session_reset=res.session_reset,
    )


# --- files -----------------------------------------------------------------------------------

_FILE_TYPES = {
    filesystem_pb2.FILE_TYPE_FILE: "file",
    filesystem_pb2.FILE_TYPE_DIRECTORY: "directory",
    filesystem_pb2.FILE_TYPE_SYMLINK: "symlink",
    filesystem_pb2.FILE_TYPE_OTHER: "other",
}


def file_info(info: filesystem_pb2.FileInfo) -> FileInfo:
    """Converts FileInfo."""
    return FileInfo(
        name=info.name,
        path=info.path,
        is_dir=info.type == filesystem_pb2.FILE_TYPE_DIRECTORY,
        size=info.size_bytes,
        mode=format(info.mode, "o"),
        owner=info.owner,
        group=info.group,
        mod_time=time_of(info, "modify_time"),
        type=_FILE_TYPES.get(info.type, "unknown"),
        symlink_target=info.symlink_target,
    )


def match(m: filesystem_pb2.TextMatch) -> Match:
    """Converts TextMatch."""
    return Match(file=m.path, line=m.line_number, column=m.column, content=m.line)


def replace_result(r: filesystem_pb2.ReplaceResult) -> ReplaceResult:
    """Converts ReplaceResult."""
    return ReplaceResult(
        file=r.path,
        success=not r.error_reason,
        replacements=r.replacement_count,
        error=r.error_message,
        error_reason=r.error_reason,
    )


def upload_header(remote_path: str, size: Optional[int]) -> filesystem_service_pb2.UploadFileRequest:
    """The first UploadFile message."""
    header = filesystem_service_pb2.UploadFileHeader(path=remote_path)
    if size is not None:
        header.size_bytes = size
    return filesystem_service_pb2.UploadFileRequest(header=header)


def known_size(source: Any) -> Optional[int]:
    """The number of bytes a file object will still yield, when it can be told cheaply."""
    try:
        if hasattr(source, "seekable") and source.seekable():
            here = source.tell()
            end = source.seek(0, os.SEEK_END)
            source.seek(here)
            return end - here
    except (OSError, ValueError):
        pass
    return None


def set_permissions_request(
    path: str, mode: Union[str, int, None], owner: Optional[str], group: Optional[str]
) -> filesystem_service_pb2.SetPermissionsRequest:
    """Builds SetPermissionsRequest; unset fields are left unchanged."""
    request = filesystem_service_pb2.SetPermissionsRequest(path=path, owner=owner or "", group=group or "")
    bits = octal_mode(mode)
    if bits is not None:
        request.mode = bits
    return request


# --- git -------------------------------------------------------------------------------------


def credentials(username: Optional[str], password: Optional[str]) -> Optional[git_pb2.GitCredentials]:
    """GitCredentials, or None when neither is given."""
    if username is None and password is None:
        return None
    return git_pb2.GitCredentials(username=username or "git", password=password or "")


def _git_state(value: int) -> str:
    return git_pb2.GitFileState.Name(value).removeprefix("GIT_FILE_STATE_").lower().replace(
        "unspecified", "unmodified"
    )


def git_status(res: git_service_pb2.StatusResponse) -> GitStatus:
    """Converts StatusResponse."""
    return GitStatus(
        current_branch=res.branch,
        head_sha=res.head_sha,
        upstream=res.upstream,
        ahead=res.ahead,
        behind=res.behind,
        file_status=[
            GitFileStatus(
                name=f.path,
                staging=_git_state(f.staged),
                worktree=_git_state(f.unstaged),
                original_path=f.original_path,
            )
            for f in res.files
        ],
    )


def git_branch(b: git_pb2.GitBranch) -> GitBranch:
    """Converts GitBranch."""
    return GitBranch(
        name=b.name, current=b.current, remote=b.remote, commit_sha=b.commit_sha, upstream=b.upstream
    )


def git_commit(c: git_pb2.GitCommit) -> GitCommit:
    """Converts GitCommit."""
    return GitCommit(
        sha=c.sha,
        message=c.message,
        author=c.author_name,
        email=c.author_email,
        timestamp=time_of(c, "author_time"),
        parents=list(c.parent_shas),
    )


# --- sandbox creation --------------------------------------------------------------------------


def created_sandbox_id(error: CoveError) -> Optional[str]:
    """The sandbox a failed CreateSandbox made, if it made one.

    The ErrorInfo metadata ``sandbox_id`` (set once the sandbox's row exists), else the
    ``sandboxId`` a failed wait for STARTED names (ERROR state, timeout, state conflict). An
    IDEMPOTENCY_CONFLICT names another request's sandbox, never this one's.
    """
    explicit = error.metadata.get("sandbox_id")
    if explicit:
        return explicit
    if error.reason == "IDEMPOTENCY_CONFLICT":
        return None
    return error.metadata.get("sandboxId") or None


# --- uploads -------------------------------------------------------------------------------------

#: What upload_file says when given something that is not content.
_UPLOAD_HINT = (
    "upload_file takes the file's content (bytes, bytearray, memoryview or a binary file object), "
    "not {what}: encode text first (text.encode()); to upload a local file by its path use "
    "upload_file_from_path(local_path, remote_path)"
)


def check_upload_content(src: Any) -> None:
    """Raises TypeError unless src is upload content: bytes-like or a binary file object.

    A str (or a path object) is refused, so that neither text nor a path is ever taken for the
    other; local files go through upload_file_from_path.
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        return
    if isinstance(src, str):
        raise TypeError(_UPLOAD_HINT.format(what="a str"))
    if isinstance(src, os.PathLike):
        raise TypeError(_UPLOAD_HINT.format(what="a path"))
    if callable(getattr(src, "read", None)):
        return
    raise TypeError(_UPLOAD_HINT.format(what=type(src).__name__))


def check_local_path(local_path: Any) -> str:
    """Returns local_path as a str when it names an existing regular file; raises otherwise."""
    if not isinstance(local_path, (str, os.PathLike)):
        raise TypeError(
            f"upload_file_from_path takes a local path (str or os.PathLike), not "
            f"{type(local_path).__name__}; use upload_file for content"
        )
    path = os.fspath(local_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such local file: {path}")
    return path
