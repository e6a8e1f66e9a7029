"""The asyncio transport: grpc.aio channels, unary calls with deadlines and retries, streams."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import grpc
import grpc.aio

from .._rpc import MAX_STREAM_RECONNECTS, is_transient
from .._transport import (
    CHANNEL_OPTIONS,
    STREAM_IDLE_TIMEOUT_S,
    Backoff,
    ClientConfig,
    parse_target,
    should_retry,
)
from ..errors import CoveError, CoveTimeoutError, CoveUnavailableError, from_rpc_error


async def maybe_await(value: Any) -> Any:
    """Awaits value when a callback returned an awaitable (async callbacks are allowed)."""
    if inspect.isawaitable(value):
        return await value
    return value


class AsyncRpc:
    """Owns the grpc.aio channels of one AsyncCove client and runs calls on them."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.backoff = Backoff()
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._closed = False

    def channel(self, url: str) -> grpc.aio.Channel:
        """Returns the (shared) channel for an http(s) URL, creating it on first use."""
        if self._closed:
            raise CoveError("the AsyncCove client is closed")
        channel = self._channels.get(url)
        if channel is None:
            target = parse_target(url)
            if target.secure:
                channel = grpc.aio.secure_channel(
                    target.address, grpc.ssl_channel_credentials(), options=CHANNEL_OPTIONS
                )
            else:
                channel = grpc.aio.insecure_channel(target.address, options=CHANNEL_OPTIONS)
            self._channels[url] = channel
        return channel

    async def unary(
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
                raise CoveTimeoutError(
                    f"no time left for the call after {attempt - 1} attempts",
                    code=grpc.StatusCode.DEADLINE_EXCEEDED,
                )
            try:
                return await method(request, metadata=metadata, timeout=remaining)
            except grpc.RpcError as e:
                error = from_rpc_error(e)
            if not should_retry(error, attempt, self.config.max_retries, idempotent):
                raise error
            delay = self.backoff.delay(attempt, error)
            if time.monotonic() + delay >= deadline:
                raise error
            await asyncio.sleep(delay)

    async def close(self) -> None:
        """Closes every channel; later calls fail."""
        self._closed = True
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()


class AsyncStreamPump:
    """Reads a server stream to its end, re-opening it after transient failures (see StreamPump)."""

    def __init__(
        self,
        open_call: Callable[[bool], Any],
        on_message: Callable[[Any], Awaitable[bool]],
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
        self._call: Any = None

    async def run(self) -> None:
        """Pumps until the end message; raises CoveError when the stream fails for good."""
        first = True
        failures = 0
        try:
            while True:
                call = self._open_call(first)
                self._call = call
                error: Optional[CoveError] = None
                try:
                    while True:
                        try:
                            message = await asyncio.wait_for(call.read(), self._idle_timeout)
                        except asyncio.TimeoutError:
                            call.cancel()
                            error = CoveUnavailableError(
                                f"no message for {self._idle_timeout:.0f} s", code=grpc.StatusCode.UNAVAILABLE
                            )
                            break
                        if message is grpc.aio.EOF:
                            if self._close_ends:
                                return
                            break
                        failures = 0
                        if await self._on_message(message):
                            return
                except grpc.RpcError as e:
                    error = from_rpc_error(e)
                failures += 1
                if not (is_transient(error) and self._resumable() and failures <= MAX_STREAM_RECONNECTS):
                    raise error or CoveUnavailableError(
                        "the stream ended before its end event", code=grpc.StatusCode.UNAVAILABLE
                    )
                await asyncio.sleep(self._backoff.delay(failures, error or CoveUnavailableError("")))
                first = False
        finally:
            if self._call is not None:
                self._call.cancel()
