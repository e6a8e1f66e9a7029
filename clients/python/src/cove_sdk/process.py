"""sandbox.process: run commands and code, background processes with live output, sessions."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

import grpc
from cove.toolbox.v1 import process_pb2, process_service_pb2, process_service_pb2_grpc

from . import _convert as cv
from ._output import OutputCallback, OutputDispatcher
from ._rpc import StreamPump
from ._transport import STREAM_ATTEMPT_TIMEOUT_S
from .errors import CoveError, CoveTimeoutError
from .models import (
    ExecuteResponse,
    ProcessExit,
    ProcessInfo,
    Session,
    SessionCommand,
    SessionCommandLogs,
    SessionExecuteResponse,
)

if TYPE_CHECKING:
    from ._rpc import SyncRpc


class ProcessHandle:
    """A background process: its pid, live output through callbacks, wait/kill/input.

    Callbacks run on a reader thread, one at a time, in output order; wait() returns only after
    the last chunk of both streams was delivered. If the connection drops, the handle reconnects
    and resumes from the last byte it delivered.
    """

    def __init__(
        self,
        process: Process,
        first_call: Any,
        *,
        on_stdout: Optional[OutputCallback],
        on_stderr: Optional[OutputCallback],
        from_offset: int,
        stderr_offset: int = 0,
        start_timeout: float,
    ) -> None:
        self._process = process
        self._first_call = first_call
        self._dispatcher = OutputDispatcher(on_stdout, on_stderr, from_offset, stderr_offset)
        self._pid: Optional[int] = None
        self.tag: str = ""
        self._exit: Optional[ProcessExit] = None
        self._error: Optional[BaseException] = None
        self._started = threading.Event()
        self._done = threading.Event()
        self._pump = StreamPump(
            self._open,
            self._on_event,
            resumable=lambda: self._pid is not None,
            backoff=process._rpc.backoff,
        )
        self._thread = threading.Thread(target=self._read, name="cove-process-output", daemon=True)
        self._thread.start()
        if not self._started.wait(start_timeout):
            self._pump.stop()
            raise CoveTimeoutError(f"the process did not start within {start_timeout:.0f} s")
        if self._pid is None:
            assert self._error is not None
            raise self._error

    @property
    def pid(self) -> int:
        """The process id inside the sandbox."""
        assert self._pid is not None
        return self._pid

    @property
    def exit_code(self) -> Optional[int]:
        """The exit code once the process ended (and its output was delivered), else None."""
        return self._exit.exit_code if self._exit is not None else None

    def _open(self, first: bool) -> Any:
        if first:
            return self._first_call()
        request = process_service_pb2.ConnectRequest(
            process=process_pb2.ProcessSelector(pid=self.pid),
            stdout_offset=self._dispatcher.stdout_offset,
            stderr_offset=self._dispatcher.stderr_offset,
        )
        return self._process._stub.Connect(
            request, metadata=self._process._metadata, timeout=STREAM_ATTEMPT_TIMEOUT_S
        )

    def _on_event(self, response: Any) -> bool:
        event = response.event
        kind = event.WhichOneof("event")
        if kind == "start":
            if self._pid is None:
                self._pid, self.tag = event.start.pid, event.start.tag
                self._started.set()
        elif kind == "data":
            for callback, piece in self._dispatcher.feed(event.data):
                self._deliver(callback, piece)
        elif kind == "end":
            for callback, piece in self._dispatcher.finish():
                self._deliver(callback, piece)
            self._exit = cv.process_exit(event.end, self._pid or 0)
            return True
        return False

    def _deliver(self, callback: OutputCallback, piece: str) -> None:
        try:
            callback(piece)
        except BaseException as e:  # noqa: BLE001 — surfaced by wait(); output keeps flowing
            if self._error is None:
                self._error = e

    def _read(self) -> None:
        try:
            self._pump.run()
        except BaseException as e:  # noqa: BLE001 — stored for start()/wait()
            if self._error is None:
                self._error = e
        finally:
            self._done.set()
            self._started.set()

    def wait(self, timeout: Optional[float] = None) -> ProcessExit:
        """Blocks until the process ended and all its output was delivered; returns how it ended.

        Raises CoveTimeoutError when timeout (seconds) passes first (the process keeps running),
        the stream's CoveError if it failed for good, or the first exception a callback raised.
        """
        if not self._done.wait(timeout):
            raise CoveTimeoutError(f"process {self._pid} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._exit is not None
        return self._exit

    def kill(self) -> None:
        """Kills the process's whole tree (SIGKILL)."""
        self._process.kill(self.pid)

    def signal(self, name: str) -> None:
        """Sends a signal by name ("SIGTERM", "SIGINT", ...) to the process group."""
        self._process.signal(self.pid, name)

    def send_input(self, data: Union[str, bytes]) -> None:
        """Writes to stdin (start the process with open_stdin=True)."""
        self._process.send_input(self.pid, data)

    def close_stdin(self) -> None:
        """Closes stdin so the process reads end of file."""
        self._process.close_stdin(self.pid)

    def disconnect(self) -> None:
        """Stops receiving output; the process keeps running (reattach with process.connect)."""
        self._pump.stop()
        self._done.wait(5)


class Process:
    """Commands, code and sessions in one sandbox (``sandbox.process``)."""

    def __init__(self, rpc: SyncRpc, channel: grpc.Channel, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = process_service_pb2_grpc.ProcessServiceStub(channel)
        self._metadata = metadata

    def _unary(self, method: Any, request: Any, *, timeout: Optional[float] = None, idempotent: bool = True) -> Any:
        return self._rpc.unary(method, request, self._metadata, timeout=timeout, idempotent=idempotent)

    # --- one-shot -----------------------------------------------------------------------------

    def exec(
        self,
        command: str,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> ExecuteResponse:
        """Runs a shell command to completion. timeout (s) kills its process tree (default 60, 0 none)."""
        request = cv.exec_request(command, cwd, env, timeout)
        res = self._unary(
            self._stub.Exec,
            request,
            timeout=cv.command_deadline(timeout, self._rpc.config.timeout),
            idempotent=False,
        )
        return cv.execute_response(res)

    execute_command = exec

    def code_run(
        self,
        code: str,
        language: str = "python",
        argv: Optional[list[str]] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> ExecuteResponse:
        """Runs a snippet in a fresh interpreter ("python", "javascript", "typescript")."""
        request = cv.code_run_request(code, language, argv, env, cwd, timeout)
        res = self._unary(
            self._stub.CodeRun,
            request,
            timeout=cv.command_deadline(timeout, self._rpc.config.timeout),
            idempotent=False,
        )
        return cv.execute_response(res)

    # --- background ---------------------------------------------------------------------------

    def start(
        self,
        command: str,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        tag: Optional[str] = None,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        open_stdin: bool = False,
    ) -> ProcessHandle:
        """Starts a background command and returns once it runs; output flows to the callbacks.

        The process is not tied to this client: it keeps running if the connection drops and can
        be reattached with connect(pid_or_tag). timeout (s) kills it; default: no timeout.
        """
        request = cv.start_request(command, cwd, env, tag, timeout, open_stdin)
        return ProcessHandle(
            self,
            lambda: self._stub.Start(request, metadata=self._metadata, timeout=STREAM_ATTEMPT_TIMEOUT_S),
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            from_offset=0,
            start_timeout=self._rpc.config.timeout,
        )

    def connect(
        self,
        pid_or_tag: Union[int, str],
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        from_offset: int = 0,
        stderr_offset: int = 0,
    ) -> ProcessHandle:
        """Reattaches to a running or recently ended process by pid or tag.

        stdout is replayed from byte from_offset and stderr from byte stderr_offset (as far as the
        daemon still holds them), then both follow live.
        """
        request = process_service_pb2.ConnectRequest(
            process=cv.selector(pid_or_tag), stdout_offset=from_offset, stderr_offset=stderr_offset
        )
        return ProcessHandle(
            self,
            lambda: self._stub.Connect(request, metadata=self._metadata, timeout=STREAM_ATTEMPT_TIMEOUT_S),
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            from_offset=from_offset,
            start_timeout=self._rpc.config.timeout,
        )

    def kill(self, pid_or_tag: Union[int, str]) -> None:
        """Kills a background process's whole tree (SIGKILL)."""
        self.signal(pid_or_tag, "SIGKILL")

    def signal(self, pid_or_tag: Union[int, str], name: str) -> None:
        """Sends a signal by name ("SIGTERM", "SIGINT", "SIGKILL", ...) to a process group."""
        try:
            value = process_pb2.Signal.Value(f"SIGNAL_{name.upper()}")
        except ValueError:
            raise CoveError(f"unsupported signal {name!r}") from None
        request = process_service_pb2.SendSignalRequest(process=cv.selector(pid_or_tag), signal=value)
        self._unary(self._stub.SendSignal, request)

    def send_input(self, pid_or_tag: Union[int, str], data: Union[str, bytes]) -> None:
        """Writes to a process's stdin (it must have been started with open_stdin=True)."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        request = process_service_pb2.SendInputRequest(process=cv.selector(pid_or_tag), data=raw)
        self._unary(self._stub.SendInput, request, idempotent=False)

    def close_stdin(self, pid_or_tag: Union[int, str]) -> None:
        """Closes a process's stdin."""
        request = process_service_pb2.CloseStdinRequest(process=cv.selector(pid_or_tag))
        self._unary(self._stub.CloseStdin, request)

    def list_processes(self, running_only: bool = False) -> list[ProcessInfo]:
        """Lists background processes (running, and exited ones kept for 10 minutes)."""
        request = process_service_pb2.ListProcessesRequest(running_only=running_only)
        res = self._unary(self._stub.ListProcesses, request)
        return [cv.process_info(p) for p in res.processes]

    # --- sessions -----------------------------------------------------------------------------

    def create_session(
        self, session_id: str, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
    ) -> Session:
        """Creates a persistent shell; cd, export and functions persist between its commands."""
        request = process_service_pb2.CreateSessionRequest(session_id=session_id, cwd=cwd or "", env=dict(env or {}))
        return cv.session(self._unary(self._stub.CreateSession, request, idempotent=False).session)

    def get_session(self, session_id: str) -> Session:
        """Describes a session."""
        request = process_service_pb2.GetSessionRequest(session_id=session_id)
        return cv.session(self._unary(self._stub.GetSession, request).session)

    def list_sessions(self) -> list[Session]:
        """Lists all sessions."""
        res = self._unary(self._stub.ListSessions, process_service_pb2.ListSessionsRequest())
        return [cv.session(s) for s in res.sessions]

    def delete_session(self, session_id: str) -> None:
        """Kills a session's shell and everything it started."""
        request = process_service_pb2.DeleteSessionRequest(session_id=session_id)
        self._unary(self._stub.DeleteSession, request)

    def execute_session_command(
        self,
        session_id: str,
        command: str,
        run_async: bool = False,
        timeout: Optional[float] = None,
    ) -> SessionExecuteResponse:
        """Runs a command in a session; with run_async returns its cmd_id at once."""
        request = process_service_pb2.SessionExecuteRequest(
            session_id=session_id, command=command, **{"async": run_async}
        )
        if timeout is not None:
            request.timeout.CopyFrom(cv.duration(timeout))
        deadline = self._rpc.config.timeout if run_async else cv.command_deadline(timeout, self._rpc.config.timeout)
        res = self._unary(self._stub.SessionExecute, request, timeout=deadline, idempotent=False)
        return cv.session_execute_response(res)

    def get_session_command(self, session_id: str, command_id: str) -> SessionCommand:
        """Describes one command of a session (exit_code None while running)."""
        request = process_service_pb2.GetSessionCommandRequest(session_id=session_id, command_id=command_id)
        return cv.session_command(self._unary(self._stub.GetSessionCommand, request).command)

    def get_session_command_logs(
        self,
        session_id: str,
        command_id: str,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
    ) -> SessionCommandLogs:
        """Returns a session command's output.

        With callbacks, follows the command live (callbacks run on the calling thread) and
        returns when it ended; without, returns what was written so far.
        """
        follow = on_stdout is not None or on_stderr is not None
        out: list[str] = []
        err: list[str] = []

        def tee(sink: list[str], callback: Optional[OutputCallback]) -> OutputCallback:
            def deliver(piece: str) -> None:
                sink.append(piece)
                if callback is not None:
                    callback(piece)

            return deliver

        dispatcher = OutputDispatcher(tee(out, on_stdout), tee(err, on_stderr))
        exit_code: list[int] = []
        request = process_service_pb2.GetSessionCommandLogsRequest(
            session_id=session_id, command_id=command_id, follow=follow
        )
        timeout = STREAM_ATTEMPT_TIMEOUT_S if follow else self._rpc.config.timeout

        def on_message(message: Any) -> bool:
            kind = message.WhichOneof("event")
            if kind == "data":
                for callback, piece in dispatcher.feed(message.data):
                    callback(piece)
            elif kind == "end":
                exit_code.append(message.end.exit_code)
                return True
            return False

        pump = StreamPump(
            lambda _first: self._stub.GetSessionCommandLogs(request, metadata=self._metadata, timeout=timeout),
            on_message,
            resumable=lambda: True,  # offsets drop what a re-opened stream replays
            backoff=self._rpc.backoff,
            # Without follow the stream closes after what is retained, with no end message
            # while the command still runs.
            close_ends=not follow,
        )
        pump.run()
        for callback, piece in dispatcher.finish():
            callback(piece)
        return SessionCommandLogs("".join(out), "".join(err), exit_code[0] if exit_code else None)

