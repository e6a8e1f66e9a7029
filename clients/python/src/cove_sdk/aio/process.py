"""sandbox.process for asyncio: commands, code, background processes, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

import grpc
from cove.toolbox.v1 import process_pb2, process_service_pb2, process_service_pb2_grpc

from .. import _convert as cv
from .._output import OutputCallback, OutputDispatcher
from .._transport import STREAM_ATTEMPT_TIMEOUT_S
from ..errors import CoveError, CoveTimeoutError
from ..models import (
    ExecuteResponse,
    ProcessExit,
    ProcessInfo,
    Session,
    SessionCommand,
    SessionCommandLogs,
    SessionExecuteResponse,
)
from ._rpc import AsyncStreamPump, maybe_await

if TYPE_CHECKING:
    from ._rpc import AsyncRpc


class AsyncProcessHandle:
    """A background process (asyncio): pid, live output through callbacks, wait/kill/input.

    Callbacks (plain or async functions) run on a reader task one at a time, in output order;
    wait() returns only after the last chunk of both streams was delivered. A dropped
    connection is resumed from the last byte delivered.
    """

    def __init__(
        self,
        process: AsyncProcess,
        first_call: Any,
        *,
        on_stdout: Optional[OutputCallback],
        on_stderr: Optional[OutputCallback],
        from_offset: int,
        stderr_offset: int = 0,
    ) -> None:
        self._process = process
        self._first_call = first_call
        self._dispatcher = OutputDispatcher(on_stdout, on_stderr, from_offset, stderr_offset)
        self._pid: Optional[int] = None
        self.tag = ""
        self._exit: Optional[ProcessExit] = None
        self._error: Optional[BaseException] = None
        self._started = asyncio.Event()
        self._pump = AsyncStreamPump(
            self._open, self._on_event, resumable=lambda: self._pid is not None, backoff=process._rpc.backoff
        )
        self._task: Optional[asyncio.Task[None]] = None

    async def _begin(self, start_timeout: float) -> AsyncProcessHandle:
        self._task = asyncio.get_running_loop().create_task(self._read())
        try:
            await asyncio.wait_for(self._started.wait(), start_timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
            raise CoveTimeoutError(f"the process did not start within {start_timeout:.0f} s") from None
        if self._pid is None:
            assert self._error is not None
            raise self._error
        return self

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
        return self._process._stub.Connect(request, metadata=self._process._metadata, timeout=STREAM_ATTEMPT_TIMEOUT_S)

    async def _on_event(self, response: Any) -> bool:
        event = response.event
        kind = event.WhichOneof("event")
        if kind == "start":
            if self._pid is None:
                self._pid, self.tag = event.start.pid, event.start.tag
                self._started.set()
        elif kind == "data":
            for callback, piece in self._dispatcher.feed(event.data):
                await self._deliver(callback, piece)
        elif kind == "end":
            for callback, piece in self._dispatcher.finish():
                await self._deliver(callback, piece)
            self._exit = cv.process_exit(event.end, self._pid or 0)
            return True
        return False

    async def _deliver(self, callback: OutputCallback, piece: str) -> None:
        try:
            await maybe_await(callback(piece))
        except Exception as e:  # noqa: BLE001 — surfaced by wait(); output keeps flowing
            if self._error is None:
                self._error = e

    async def _read(self) -> None:
        try:
            await self._pump.run()
        except asyncio.CancelledError:
            if self._error is None:
                self._error = CoveError("the stream was closed by the client", code=grpc.StatusCode.CANCELLED)
        except Exception as e:  # noqa: BLE001 — stored for start()/wait()
            if self._error is None:
                self._error = e
        finally:
            self._started.set()

    async def wait(self, timeout: Optional[float] = None) -> ProcessExit:
        """Waits until the process ended and all its output was delivered; returns how it ended.

        Raises CoveTimeoutError when timeout (seconds) passes first (the process keeps running),
        the stream's CoveError if it failed for good, or the first exception a callback raised.
        """
        assert self._task is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            raise CoveTimeoutError(f"process {self._pid} still running after {timeout} s") from None
        if self._error is not None:
            raise self._error
        assert self._exit is not None
        return self._exit

    async def kill(self) -> None:
        """Kills the process's whole tree (SIGKILL)."""
        await self._process.kill(self.pid)

    async def signal(self, name: str) -> None:
        """Sends a signal by name ("SIGTERM", "SIGINT", ...) to the process group."""
        await self._process.signal(self.pid, name)

    async def send_input(self, data: Union[str, bytes]) -> None:
        """Writes to stdin (start the process with open_stdin=True)."""
        await self._process.send_input(self.pid, data)

    async def close_stdin(self) -> None:
        """Closes stdin so the process reads end of file."""
        await self._process.close_stdin(self.pid)

    async def disconnect(self) -> None:
        """Stops receiving output; the process keeps running (reattach with process.connect)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class AsyncProcess:
    """Commands, code and sessions in one sandbox (``sandbox.process``, asyncio)."""

    def __init__(self, rpc: AsyncRpc, channel: Any, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = process_service_pb2_grpc.ProcessServiceStub(channel)
        self._metadata = metadata

    async def _unary(self, method: Any, request: Any, *, timeout: Optional[float] = None, idempotent: bool = True) -> Any:
        return await self._rpc.unary(method, request, self._metadata, timeout=timeout, idempotent=idempotent)

    async def exec(
        self,
        command: str,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> ExecuteResponse:
        """Runs a shell command to completion. timeout (s) kills its process tree (default 60, 0 none)."""
        request = cv.exec_request(command, cwd, env, timeout)
        res = await self._unary(
            self._stub.Exec, request, timeout=cv.command_deadline(timeout, self._rpc.config.timeout), idempotent=False
        )
        return cv.execute_response(res)

    execute_command = exec

    async def code_run(
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
        res = await self._unary(
            self._stub.CodeRun, request, timeout=cv.command_deadline(timeout, self._rpc.config.timeout), idempotent=False
        )
        return cv.execute_response(res)

    async def start(
        self,
        command: str,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        tag: Optional[str] = None,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        open_stdin: bool = False,
    ) -> AsyncProcessHandle:
        """Starts a background command and returns once it runs; output flows to the callbacks."""
        request = cv.start_request(command, cwd, env, tag, timeout, open_stdin)
        handle = AsyncProcessHandle(
            self,
            lambda: self._stub.Start(request, metadata=self._metadata, timeout=STREAM_ATTEMPT_TIMEOUT_S),
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            from_offset=0,
        )
        return await handle._begin(self._rpc.config.timeout)

    async def connect(
        self,
        pid_or_tag: Union[int, str],
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        from_offset: int = 0,
        stderr_offset: int = 0,
    ) -> AsyncProcessHandle:
        """Reattaches to a process by pid or tag, replaying stdout from from_offset, stderr from stderr_offset."""
        request = process_service_pb2.ConnectRequest(
            process=cv.selector(pid_or_tag), stdout_offset=from_offset, stderr_offset=stderr_offset
        )
        handle = AsyncProcessHandle(
            self,
            lambda: self._stub.Connect(request, metadata=self._metadata, timeout=STREAM_ATTEMPT_TIMEOUT_S),
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            from_offset=from_offset,
            stderr_offset=stderr_offset,
        )
        return await handle._begin(self._rpc.config.timeout)

    async def kill(self, pid_or_tag: Union[int, str]) -> None:
        """Kills a background process's whole tree (SIGKILL)."""
        await self.signal(pid_or_tag, "SIGKILL")

    async def signal(self, pid_or_tag: Union[int, str], name: str) -> None:
        """Sends a signal by name to a process group."""
        try:
            value = process_pb2.Signal.Value(f"SIGNAL_{name.upper()}")
        except ValueError:
            raise CoveError(f"unsupported signal {name!r}") from None
        request = process_service_pb2.SendSignalRequest(process=cv.selector(pid_or_tag), signal=value)
        await self._unary(self._stub.SendSignal, request)

    async def send_input(self, pid_or_tag: Union[int, str], data: Union[str, bytes]) -> None:
        """Writes to a process's stdin (it must have been started with open_stdin=True)."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        request = process_service_pb2.SendInputRequest(process=cv.selector(pid_or_tag), data=raw)
        await self._unary(self._stub.SendInput, request, idempotent=False)

    async def close_stdin(self, pid_or_tag: Union[int, str]) -> None:
        """Closes a process's stdin."""
        await self._unary(self._stub.CloseStdin, process_service_pb2.CloseStdinRequest(process=cv.selector(pid_or_tag)))

    async def list_processes(self, running_only: bool = False) -> list[ProcessInfo]:
        """Lists background processes (running, and exited ones kept for 10 minutes)."""
        res = await self._unary(self._stub.ListProcesses, process_service_pb2.ListProcessesRequest(running_only=running_only))
        return [cv.process_info(p) for p in res.processes]

    async def create_session(
        self, session_id: str, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
    ) -> Session:
        """Creates a persistent shell; cd, export and functions persist between its commands."""
        request = process_service_pb2.CreateSessionRequest(session_id=session_id, cwd=cwd or "", env=dict(env or {}))
        return cv.session((await self._unary(self._stub.CreateSession, request, idempotent=False)).session)

    async def get_session(self, session_id: str) -> Session:
        """Describes a session."""
        res = await self._unary(self._stub.GetSession, process_service_pb2.GetSessionRequest(session_id=session_id))
        return cv.session(res.session)

    async def list_sessions(self) -> list[Session]:
        """Lists all sessions."""
        res = await self._unary(self._stub.ListSessions, process_service_pb2.ListSessionsRequest())
        return [cv.session(s) for s in res.sessions]

    async def delete_session(self, session_id: str) -> None:
        """Kills a session's shell and everything it started."""
        await self._unary(self._stub.DeleteSession, process_service_pb2.DeleteSessionRequest(session_id=session_id))

    async def execute_session_command(
        self, session_id: str, command: str, run_async: bool = False, timeout: Optional[float] = None
    ) -> SessionExecuteResponse:
        """Runs a command in a session; with run_async returns its cmd_id at once."""
        request = process_service_pb2.SessionExecuteRequest(
            session_id=session_id, command=command, **{"async": run_async}
        )
        if timeout is not None:
            request.timeout.CopyFrom(cv.duration(timeout))
        deadline = self._rpc.config.timeout if run_async else cv.command_deadline(timeout, self._rpc.config.timeout)
        res = await self._unary(self._stub.SessionExecute, request, timeout=deadline, idempotent=False)
        return cv.session_execute_response(res)

    async def get_session_command(self, session_id: str, command_id: str) -> SessionCommand:
        """Describes one command of a session (exit_code None while running)."""
        request = process_service_pb2.GetSessionCommandRequest(session_id=session_id, command_id=command_id)
        return cv.session_command((await self._unary(self._stub.GetSessionCommand, request)).command)

    async def get_session_command_logs(
        self,
        session_id: str,
        command_id: str,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
    ) -> SessionCommandLogs:
        """Returns a session command's output; with callbacks, follows it live until it ends."""
        follow = on_stdout is not None or on_stderr is not None
        out: list[str] = []
        err: list[str] = []
        # The dispatcher's callbacks only mark the stream; deliver() collects and forwards.
        dispatcher = OutputDispatcher(out.append, err.append)
        exit_code: list[int] = []
        request = process_service_pb2.GetSessionCommandLogsRequest(
            session_id=session_id, command_id=command_id, follow=follow
        )
        timeout = STREAM_ATTEMPT_TIMEOUT_S if follow else self._rpc.config.timeout

        async def deliver(deliveries: list[tuple[Any, str]]) -> None:
            for collect, piece in deliveries:
                collect(piece)
                user = on_stdout if collect == out.append else on_stderr
                if user is not None:
                    await maybe_await(user(piece))

        async def on_message(message: Any) -> bool:
            kind = message.WhichOneof("event")
            if kind == "data":
                await deliver(dispatcher.feed(message.data))
            elif kind == "end":
                exit_code.append(message.end.exit_code)
                return True
            return False

        pump = AsyncStreamPump(
            lambda _first: self._stub.GetSessionCommandLogs(request, metadata=self._metadata, timeout=timeout),
            on_message,
            resumable=lambda: True,
            backoff=self._rpc.backoff,
            close_ends=not follow,
        )
        await pump.run()
        await deliver(dispatcher.finish())
        return SessionCommandLogs("".join(out), "".join(err), exit_code[0] if exit_code else None)
