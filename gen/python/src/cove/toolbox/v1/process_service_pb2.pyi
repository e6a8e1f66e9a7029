import datetime

from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from cove.toolbox.v1 import language_pb2 as _language_pb2
from cove.toolbox.v1 import process_pb2 as _process_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExecRequest(_message.Message):
    __slots__ = ("command", "argv", "cwd", "env", "user", "stdin", "timeout", "max_output_bytes")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    command: str
    argv: _process_pb2.Argv
    cwd: str
    env: _containers.ScalarMap[str, str]
    user: str
    stdin: bytes
    timeout: _duration_pb2.Duration
    max_output_bytes: int
    def __init__(self, command: _Optional[str] = ..., argv: _Optional[_Union[_process_pb2.Argv, _Mapping]] = ..., cwd: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., user: _Optional[str] = ..., stdin: _Optional[bytes] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_output_bytes: _Optional[int] = ...) -> None: ...

class ExecResponse(_message.Message):
    __slots__ = ("exit_code", "signal", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "timed_out", "duration")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    signal: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    duration: _duration_pb2.Duration
    def __init__(self, exit_code: _Optional[int] = ..., signal: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., stdout_truncated: bool = ..., stderr_truncated: bool = ..., timed_out: bool = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StartRequest(_message.Message):
    __slots__ = ("command", "argv", "cwd", "env", "user", "tag", "timeout", "open_stdin", "pty", "kill_on_disconnect")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    OPEN_STDIN_FIELD_NUMBER: _ClassVar[int]
    PTY_FIELD_NUMBER: _ClassVar[int]
    KILL_ON_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    command: str
    argv: _process_pb2.Argv
    cwd: str
    env: _containers.ScalarMap[str, str]
    user: str
    tag: str
    timeout: _duration_pb2.Duration
    open_stdin: bool
    pty: _process_pb2.PtyOptions
    kill_on_disconnect: bool
    def __init__(self, command: _Optional[str] = ..., argv: _Optional[_Union[_process_pb2.Argv, _Mapping]] = ..., cwd: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., user: _Optional[str] = ..., tag: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., open_stdin: bool = ..., pty: _Optional[_Union[_process_pb2.PtyOptions, _Mapping]] = ..., kill_on_disconnect: bool = ...) -> None: ...

class StartResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _process_pb2.ProcessEvent
    def __init__(self, event: _Optional[_Union[_process_pb2.ProcessEvent, _Mapping]] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("process", "stdout_offset", "stderr_offset")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    STDOUT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    STDERR_OFFSET_FIELD_NUMBER: _ClassVar[int]
    process: _process_pb2.ProcessSelector
    stdout_offset: int
    stderr_offset: int
    def __init__(self, process: _Optional[_Union[_process_pb2.ProcessSelector, _Mapping]] = ..., stdout_offset: _Optional[int] = ..., stderr_offset: _Optional[int] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _process_pb2.ProcessEvent
    def __init__(self, event: _Optional[_Union[_process_pb2.ProcessEvent, _Mapping]] = ...) -> None: ...

class SendInputRequest(_message.Message):
    __slots__ = ("process", "data")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    process: _process_pb2.ProcessSelector
    data: bytes
    def __init__(self, process: _Optional[_Union[_process_pb2.ProcessSelector, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class SendInputResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CloseStdinRequest(_message.Message):
    __slots__ = ("process",)
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    process: _process_pb2.ProcessSelector
    def __init__(self, process: _Optional[_Union[_process_pb2.ProcessSelector, _Mapping]] = ...) -> None: ...

class CloseStdinResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendSignalRequest(_message.Message):
    __slots__ = ("process", "signal")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    process: _process_pb2.ProcessSelector
    signal: _process_pb2.Signal
    def __init__(self, process: _Optional[_Union[_process_pb2.ProcessSelector, _Mapping]] = ..., signal: _Optional[_Union[_process_pb2.Signal, str]] = ...) -> None: ...

class SendSignalResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProcessesRequest(_message.Message):
    __slots__ = ("running_only",)
    RUNNING_ONLY_FIELD_NUMBER: _ClassVar[int]
    running_only: bool
    def __init__(self, running_only: bool = ...) -> None: ...

class ListProcessesResponse(_message.Message):
    __slots__ = ("processes",)
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[_process_pb2.ProcessInfo]
    def __init__(self, processes: _Optional[_Iterable[_Union[_process_pb2.ProcessInfo, _Mapping]]] = ...) -> None: ...

class StreamInputRequest(_message.Message):
    __slots__ = ("start", "data", "keepalive")
    START_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    start: StreamInputStart
    data: bytes
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, start: _Optional[_Union[StreamInputStart, _Mapping]] = ..., data: _Optional[bytes] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class StreamInputStart(_message.Message):
    __slots__ = ("process", "close_stdin_on_end")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_STDIN_ON_END_FIELD_NUMBER: _ClassVar[int]
    process: _process_pb2.ProcessSelector
    close_stdin_on_end: bool
    def __init__(self, process: _Optional[_Union[_process_pb2.ProcessSelector, _Mapping]] = ..., close_stdin_on_end: bool = ...) -> None: ...

class StreamInputResponse(_message.Message):
    __slots__ = ("written_bytes",)
    WRITTEN_BYTES_FIELD_NUMBER: _ClassVar[int]
    written_bytes: int
    def __init__(self, written_bytes: _Optional[int] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("session_id", "cwd", "env", "user")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    cwd: str
    env: _containers.ScalarMap[str, str]
    user: str
    def __init__(self, session_id: _Optional[str] = ..., cwd: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., user: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _process_pb2.Session
    def __init__(self, session: _Optional[_Union[_process_pb2.Session, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session", "commands")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    session: _process_pb2.Session
    commands: _containers.RepeatedCompositeFieldContainer[_process_pb2.SessionCommand]
    def __init__(self, session: _Optional[_Union[_process_pb2.Session, _Mapping]] = ..., commands: _Optional[_Iterable[_Union[_process_pb2.SessionCommand, _Mapping]]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_process_pb2.Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[_process_pb2.Session, _Mapping]]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SessionExecuteRequest(_message.Message):
    __slots__ = ("session_id", "command", "open_stdin", "timeout", "max_output_bytes")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ASYNC_FIELD_NUMBER: _ClassVar[int]
    OPEN_STDIN_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    command: str
    open_stdin: bool
    timeout: _duration_pb2.Duration
    max_output_bytes: int
    def __init__(self, session_id: _Optional[str] = ..., command: _Optional[str] = ..., open_stdin: bool = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_output_bytes: _Optional[int] = ..., **kwargs) -> None: ...

class SessionExecuteResponse(_message.Message):
    __slots__ = ("command_id", "exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "timed_out", "session_reset")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    SESSION_RESET_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    exit_code: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    session_reset: bool
    def __init__(self, command_id: _Optional[str] = ..., exit_code: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., stdout_truncated: bool = ..., stderr_truncated: bool = ..., timed_out: bool = ..., session_reset: bool = ...) -> None: ...

class GetSessionCommandRequest(_message.Message):
    __slots__ = ("session_id", "command_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    command_id: str
    def __init__(self, session_id: _Optional[str] = ..., command_id: _Optional[str] = ...) -> None: ...

class GetSessionCommandResponse(_message.Message):
    __slots__ = ("command",)
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    command: _process_pb2.SessionCommand
    def __init__(self, command: _Optional[_Union[_process_pb2.SessionCommand, _Mapping]] = ...) -> None: ...

class GetSessionCommandLogsRequest(_message.Message):
    __slots__ = ("session_id", "command_id", "follow")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    command_id: str
    follow: bool
    def __init__(self, session_id: _Optional[str] = ..., command_id: _Optional[str] = ..., follow: bool = ...) -> None: ...

class GetSessionCommandLogsResponse(_message.Message):
    __slots__ = ("data", "end", "keepalive")
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    data: _process_pb2.ProcessOutput
    end: SessionCommandEnd
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, data: _Optional[_Union[_process_pb2.ProcessOutput, _Mapping]] = ..., end: _Optional[_Union[SessionCommandEnd, _Mapping]] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class SessionCommandEnd(_message.Message):
    __slots__ = ("exit_code", "timed_out")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    timed_out: bool
    def __init__(self, exit_code: _Optional[int] = ..., timed_out: bool = ...) -> None: ...

class SendSessionInputRequest(_message.Message):
    __slots__ = ("session_id", "command_id", "data", "close_stdin")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CLOSE_STDIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    command_id: str
    data: bytes
    close_stdin: bool
    def __init__(self, session_id: _Optional[str] = ..., command_id: _Optional[str] = ..., data: _Optional[bytes] = ..., close_stdin: bool = ...) -> None: ...

class SendSessionInputResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CodeRunRequest(_message.Message):
    __slots__ = ("language", "code", "argv", "env", "cwd", "timeout", "max_output_bytes")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    language: _language_pb2.CodeLanguage
    code: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    cwd: str
    timeout: _duration_pb2.Duration
    max_output_bytes: int
    def __init__(self, language: _Optional[_Union[_language_pb2.CodeLanguage, str]] = ..., code: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., cwd: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_output_bytes: _Optional[int] = ...) -> None: ...

class CodeRunResponse(_message.Message):
    __slots__ = ("exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "timed_out", "duration")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    duration: _duration_pb2.Duration
    def __init__(self, exit_code: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., stdout_truncated: bool = ..., stderr_truncated: bool = ..., timed_out: bool = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StartCodeRunRequest(_message.Message):
    __slots__ = ("language", "code", "argv", "env", "cwd", "tag", "timeout", "open_stdin")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    OPEN_STDIN_FIELD_NUMBER: _ClassVar[int]
    language: _language_pb2.CodeLanguage
    code: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    cwd: str
    tag: str
    timeout: _duration_pb2.Duration
    open_stdin: bool
    def __init__(self, language: _Optional[_Union[_language_pb2.CodeLanguage, str]] = ..., code: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., cwd: _Optional[str] = ..., tag: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., open_stdin: bool = ...) -> None: ...

class StartCodeRunResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _process_pb2.ProcessEvent
    def __init__(self, event: _Optional[_Union[_process_pb2.ProcessEvent, _Mapping]] = ...) -> None: ...
