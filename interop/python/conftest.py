"""Fixtures for the Python interop tests: a real Cove server and grpcio channels to it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Optional
from urllib.parse import urlsplit

import grpc
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_MAIN = "interop/fixture/main.ts"
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 10.0


def _forward_stdout(stream: Any, lines: queue.Queue[Optional[str]]) -> None:
    """Forwards the server's stdout lines to a queue (None at EOF) so the pipe never fills up."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stops the server: closes its stdin, waits, and kills its process group if it lingers."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="session")
def server_target() -> Iterator[str]:
    """Starts interop/fixture/main.ts once per session; yields its target "127.0.0.1:PORT"."""
    tsx = REPO_ROOT / "node_modules" / ".bin" / "tsx"
    proc = subprocess.Popen(
        [str(tsx), FIXTURE_MAIN],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        # Its own process group, so that a stuck tsx and the node process it runs die together.
        start_new_session=True,
    )
    try:
        lines: queue.Queue[Optional[str]] = queue.Queue()
        threading.Thread(target=_forward_stdout, args=(proc.stdout, lines), daemon=True).start()
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"{FIXTURE_MAIN} printed nothing within {STARTUP_TIMEOUT_S:.0f} s")
        if first is None:
            pytest.fail(f"{FIXTURE_MAIN} exited with {proc.wait()} before it was listening")
        url = urlsplit(json.loads(first)["url"])
        assert url.scheme == "http" and url.hostname and url.port, f"unexpected url in {first!r}"
        yield f"{url.hostname}:{url.port}"
    finally:
        _stop(proc)


class _CallDetails(NamedTuple):
    """The grpc.ClientCallDetails fields, so an interceptor can hand on a changed copy."""

    method: str
    timeout: Optional[float]
    metadata: Any
    credentials: Optional[grpc.CallCredentials]
    wait_for_ready: Optional[bool]
    compression: Any


class _DefaultDeadline(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Gives calls without a timeout CALL_TIMEOUT_S (the reflection client sets none)."""

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        """Returns details with the default timeout filled in when the caller gave none."""
        timeout = details.timeout if details.timeout is not None else CALL_TIMEOUT_S
        return _CallDetails(  # type: ignore[return-value]
            details.method,
            timeout,
            details.metadata,
            details.credentials,
            details.wait_for_ready,
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        """Unary calls: add the default deadline."""
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        """Server-streaming calls: add the default deadline."""
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any
    ) -> Any:
        """Client-streaming calls: add the default deadline."""
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any
    ) -> Any:
        """Bidi calls: add the default deadline."""
        return continuation(self._details(details), requests)


@pytest.fixture
def channel(server_target: str) -> Iterator[grpc.Channel]:
    """Yields a connected insecure grpcio channel to the fixture server, closed after the test."""
    raw = grpc.insecure_channel(server_target)
    try:
        grpc.channel_ready_future(raw).result(timeout=CALL_TIMEOUT_S)
        yield grpc.intercept_channel(raw, _DefaultDeadline())
    finally:
        raw.close()
