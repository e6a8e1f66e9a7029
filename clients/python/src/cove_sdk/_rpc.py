"""The sync transport: channels, unary calls with deadlines and retries, resumable streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional

import grpc

from ._transport import (
    CHANNEL_OPTIONS,
    STREAM_IDLE_TIMEOUT_S,
    Backoff,
    ClientConfig,
    parse_target,
    should_retry,
)
from .errors import CoveError, CoveTimeoutError, CoveUnavailableError, from_rpc_error

#: How many times in a row a stream is re-opened after transient failures.
MAX_STREAM_RECONNECTS = 5


class SyncRpc:
    """Owns the grpcio channels of one Cove client and runs calls on them."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.backoff = Backoff()
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()
        self._closed = False

    def channel(self, url: str) -> grpc.Channel:
        """Returns the (shared) channel for an http(s) URL, creating it on first use."""
        with self._lock:
            if self._closed:
                raise CoveError("the Cove client is closed")
            channel = self._channels.get(url)
            if channel is None:
                target = parse_target(url)
                if target.secure:
                    creds = grpc.ssl_channel_credentials()
                    channel = grpc.secure_channel(target.address, creds, options=CHANNEL_OPTIONS)
                else:
                    channel = grpc.insecure_channel(target.address, options=CHANNEL_OPTIONS)
                self._channels[url] = channel
            return channel

    def unary(
        self,
        method: Callable[..., Any],
        request: Any,
        metadata: Any,
        *,
        timeout: Optional[float] = None,
        idempotent: bool = True,
    ) -> Any:
        """Calls a unary method within one overall deadline, retrying per STYLE."""
        budget = timeout if timeout is not None else self.config.timeout
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CoveTimeoutError(f"no time left for the call after {attempt - 1} attempts",
                                       code=grpc.StatusCode.DEADLINE_EXCEEDED)
            try:
                return method(request, metadata=metadata, timeout=remaining)
            except grpc.RpcError as e:
                error = from_rpc_error(e)
            if not should_retry(error, attempt, self.config.max_retries, idempotent):
                raise error
            delay = self.backoff.delay(attempt, error)
            if time.monotonic() + delay >= deadline:
                raise error
            time.sleep(delay)

    def close(self) -> None:
        """Closes every channel; later calls fail."""
        with self._lock:
            self._closed = True
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()


def is_transient(error: Optional[CoveError]) -> bool:
    """Stream failures worth re-opening the stream for (None: it ended without its end event)."""
    return error is None or error.code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )


class StreamPump:
    """Reads a server stream to its end, re-opening it after transient failures.

    ``open_call(first)`` opens the stream (first=False for re-opens, which must resume where
    the last one stopped); ``on_message(msg)`` handles one message and returns True once the
    stream's last message (its end event) was handled; with close_ends a clean close is the
    end too. A stream that sends nothing for
    STREAM_IDLE_TIMEOUT_S (keepalives included) is cancelled and re-opened.
    """

    def __init__(
        self,
        open_call: Callable[[bool], Any],
        on_message: Callable[[Any], bool],
        *,
        resumable: Callable[[], bool],
        backoff: Backoff,
        idle_timeout: float = STREAM_IDLE_TIMEOUT_S,
        close_ends: bool = False,
    ) -> None:
        self._open_call = open_call
        self._on_message = on_message
        self._resumable = resumable
        self._backoff = backoff
        self._idle_timeout = idle_timeout
        self._close_ends = close_ends
        self._lock = threading.Lock()
        self._call: Any = None
        self._last_message = time.monotonic()
        self._idle_cancelled = False
        self._stopped = False
        self._finished = threading.Event()

    def run(self) -> None:
        """Pumps until the end message; raises CoveError when the stream fails for good."""
        watchdog = threading.Thread(target=self._watch, name="cove-stream-watchdog", daemon=True)
        watchdog.start()
        try:
            self._run()
        finally:
            self._finished.set()

    def stop(self) -> None:
        """Cancels the stream (the caller no longer wants it); run() then raises CoveError."""
        with self._lock:
            self._stopped = True
            call = self._call
        if call is not None:
            call.cancel()

    def _run(self) -> None:
        first = True
        failures = 0
        while True:
            with self._lock:
                if self._stopped:
                    raise CoveError("the stream was closed by the client", code=grpc.StatusCode.CANCELLED)
                self._idle_cancelled = False
                self._last_message = time.monotonic()
                call: Iterator[Any] = self._open_call(first)
                self._call = call
            error: Optional[CoveError] = None
            try:
                for message in call:
                    self._last_message = time.monotonic()
                    failures = 0
                    if self._on_message(message):
                        return
                if self._close_ends:
                    return
            except grpc.RpcError as e:
                error = from_rpc_error(e)
            with self._lock:
                if self._stopped:
                    raise CoveError("the stream was closed by the client", code=grpc.StatusCode.CANCELLED)
                if self._idle_cancelled:
                    error = CoveUnavailableError(
                        f"no message for {self._idle_timeout:.0f} s", code=grpc.StatusCode.UNAVAILABLE
                    )
            failures += 1
            if not (is_transient(error) and self._resumable() and failures <= MAX_STREAM_RECONNECTS):
                raise error or CoveUnavailableError(
                    "the stream ended before its end event", code=grpc.StatusCode.UNAVAILABLE
                )
            time.sleep(self._backoff.delay(failures, error or CoveUnavailableError("")))
            first = False

    def _watch(self) -> None:
        """Cancels the current call when it has been silent for longer than the idle timeout."""
        tick = min(1.0, self._idle_timeout / 4)
        while not self._finished.wait(tick):
            with self._lock:
                call = self._call
                if call is None or time.monotonic() - self._last_message <= self._idle_timeout:
                    continue
                self._idle_cancelled = True
                self._last_message = time.monotonic()
            call.cancel()
