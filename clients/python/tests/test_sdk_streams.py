"""Stream resumption, idle detection and output decoding, against scripted fake streams."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import grpc.aio
from cove.toolbox.v1 import process_pb2, process_service_pb2

from cove_sdk._output import OutputDispatcher
from cove_sdk._rpc import StreamPump
from cove_sdk._transport import Backoff
from cove_sdk.aio._rpc import AsyncStreamPump
from cove_sdk.process import ProcessHandle


class _Failure(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._code.name

    def trailing_metadata(self) -> Any:
        return ()


class _Script:
    """A fake server stream: yields messages, then raises (or ends); cancel() ends a hang."""

    def __init__(self, messages: list[Any], fail: Any = None, hang: bool = False) -> None:
        self.messages, self.fail, self.hang = messages, fail, hang
        self.cancelled = threading.Event()

    def __iter__(self) -> Any:
        yield from self.messages
        if self.hang:
            self.cancelled.wait(10)
            raise _Failure(grpc.StatusCode.CANCELLED)
        if self.fail is not None:
            raise self.fail

    def cancel(self) -> None:
        self.cancelled.set()


def _event(**kwargs: Any) -> process_service_pb2.StartResponse:
    return process_service_pb2.StartResponse(event=process_pb2.ProcessEvent(**kwargs))


def _out(offset: int, stdout: bytes) -> process_service_pb2.StartResponse:
    return _event(data=process_pb2.ProcessOutput(stdout=stdout, offset=offset))


class _FakeProcess:
    """Stands in for Process: records Connect requests and answers them from a list of scripts."""

    def __init__(self, reconnects: list[_Script]) -> None:
        self.reconnects = reconnects
        self.connect_requests: list[Any] = []
        self._metadata = ()
        self._rpc = type("Rpc", (), {"backoff": Backoff(initial_s=0.01)})()
        self._stub = self

    def Connect(self, request: Any, metadata: Any, timeout: float) -> _Script:  # noqa: N802 — stub name
        self.connect_requests.append(request)
        return self.reconnects.pop(0)


def test_a_dropped_stream_resumes_from_the_last_delivered_byte_without_duplicates() -> None:
    first = _Script(
        [_event(start=process_pb2.ProcessStart(pid=7)), _out(0, b"line 1\nli")],
        fail=_Failure(grpc.StatusCode.UNAVAILABLE),
    )
    # The reconnect replays from an earlier offset than asked (overlap) and then continues.
    second = _Script(
        [
            _event(start=process_pb2.ProcessStart(pid=7)),
            _out(7, b"line 2\n"),
            _out(14, b"line 3\n"),
            _event(end=process_pb2.ProcessEnd(exit_code=0, stdout_end_offset=21)),
        ]
    )
    fake = _FakeProcess([second])
    pieces: list[str] = []
    handle = ProcessHandle(
        fake,  # type: ignore[arg-type]
        lambda: first,
        on_stdout=pieces.append,
        on_stderr=None,
        from_offset=0,
        start_timeout=5,
    )
    assert handle.wait(timeout=5).exit_code == 0
    assert "".join(pieces) == "line 1\nline 2\nline 3\n"
    (request,) = fake.connect_requests
    assert (request.process.pid, request.stdout_offset, request.stderr_offset) == (7, 9, 0)


def test_a_silent_stream_is_cancelled_and_reopened() -> None:
    hung = _Script([process_service_pb2.StartResponse()], hang=True)
    done = _Script([_event(end=process_pb2.ProcessEnd(exit_code=0))])
    calls = [hung, done]
    ended: list[bool] = []

    def on_message(message: Any) -> bool:
        if message.event.WhichOneof("event") == "end":
            ended.append(True)
            return True
        return False

    pump = StreamPump(
        lambda _first: calls.pop(0),
        on_message,
        resumable=lambda: True,
        backoff=Backoff(initial_s=0.01),
        idle_timeout=0.3,
    )
    pump.run()
    assert hung.cancelled.is_set() and ended == [True]


def test_dispatcher_decodes_split_characters_and_resets_after_a_gap() -> None:
    got: list[str] = []
    dispatcher = OutputDispatcher(got.append, None)
    euro = "€".encode()
    for offset, chunk in [(0, euro[:1]), (1, euro[1:2]), (2, euro[2:] + b"!")]:
        for callback, piece in dispatcher.feed(process_pb2.ProcessOutput(stdout=chunk, offset=offset)):
            callback(piece)
    assert got == ["€!"]
    # Bytes 4..9 were dropped from the daemon's ring buffer: a half character before the gap must
    # not swallow what follows.
    for callback, piece in dispatcher.feed(process_pb2.ProcessOutput(stdout=euro[:2], offset=4)):
        callback(piece)
    for callback, piece in dispatcher.feed(process_pb2.ProcessOutput(stdout=b"ok", offset=10)):
        callback(piece)
    assert got == ["€!", "ok"]
    assert dispatcher.stdout_offset == 12


class _AsyncScript:
    """A fake grpc.aio stream: read() returns messages, then hangs until cancelled, or EOF."""

    def __init__(self, messages: list[Any], hang: bool = False) -> None:
        self.messages, self.hang = list(messages), hang
        self.cancelled = False

    async def read(self) -> Any:
        if self.messages:
            return self.messages.pop(0)
        if self.hang:
            await asyncio.sleep(10)
        return grpc.aio.EOF

    def cancel(self) -> None:
        self.cancelled = True


def test_async_silent_stream_is_cancelled_and_reopened() -> None:
    hung = _AsyncScript([process_service_pb2.StartResponse()], hang=True)
    done = _AsyncScript([_event(end=process_pb2.ProcessEnd(exit_code=0))])
    calls = [hung, done]

    async def on_message(message: Any) -> bool:
        return message.event.WhichOneof("event") == "end"

    pump = AsyncStreamPump(
        lambda _first: calls.pop(0), on_message, resumable=lambda: True, backoff=Backoff(initial_s=0.01), idle_timeout=0.3
    )
    asyncio.run(asyncio.wait_for(pump.run(), 5))
    assert hung.cancelled and calls == []
