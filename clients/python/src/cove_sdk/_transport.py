"""Pieces shared by the sync and asyncio transports: configuration, targets, retry timing."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from ._version import __version__
from .errors import CoveAuthenticationError, CoveError, CoveValidationError, is_retryable

#: Where the API server listens when neither api_url nor COVE_API_URL says otherwise.
DEFAULT_API_URL = "http://localhost:3000"
#: The default deadline of a unary call, in seconds.
DEFAULT_TIMEOUT_S = 60.0
#: The deadline of one attempt of a long-lived stream (process output, log follows). The SDK
#: reconnects from the last offset when it passes, so long commands are not cut off.
STREAM_ATTEMPT_TIMEOUT_S = 3600.0
#: A stream that delivers nothing at all (not even the daemon's 15 s keepalives) for this long
#: is treated as dead and reconnected (keepalive.proto: "may treat the stream as dead" at 45 s).
STREAM_IDLE_TIMEOUT_S = 45.0
#: The default deadline of a file upload or download, in seconds.
TRANSFER_TIMEOUT_S = 3600.0
#: Extra time a call's deadline gets beyond a server-side timeout it carries (wait, exec).
DEADLINE_MARGIN_S = 15.0
#: Messages are capped at 16 MiB on the servers; the client accepts the same.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 64 * 1024
#: Upload chunk size (the daemon accepts up to 4 MiB per message).
UPLOAD_CHUNK_BYTES = 1024 * 1024

SANDBOX_ID_HEADER = "cove-sandbox-id"

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.primary_user_agent", f"cove-sdk-python/{__version__}"),
    # The SDK does its own retries (unary only, per STYLE); grpc-core's would double them.
    ("grpc.enable_retries", 0),
    # Identity only (bit 0): grpcio otherwise advertises "grpc-accept-encoding: deflate, gzip"
    # and Cove's servers then gzip every response. For file downloads (often compressed or
    # random already) that is one CPU-bound gzip pass in the daemon per byte: a 100 MB
    # download took 4-5 times longer (and 17-22 s on a busy host). The TypeScript and Go SDKs
    # turn compression off too.
    ("grpc.compression_enabled_algorithms_bitset", 1),
]


@dataclass(frozen=True)
class Target:
    """A gRPC target parsed from an http(s) URL: "host:port" and whether to use TLS."""

    address: str
    secure: bool


def parse_target(url: str) -> Target:
    """Turns "http://host:port" (h2c), "https://host[:port]" (TLS) or "host:port" into a Target."""
    if "://" not in url:
        return Target(url.rstrip("/"), secure=False)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CoveValidationError(f"unsupported URL {url!r}: use http://host:port or https://host")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return Target(f"{host}:{port}", secure=secure)


@dataclass(frozen=True)
class ClientConfig:
    """Resolved client settings (arguments first, then COVE_* environment variables)."""

    api_key: str
    api_url: str
    proxy_url: Optional[str]
    timeout: float
    max_retries: int

    @staticmethod
    def resolve(
        api_key: Optional[str],
        api_url: Optional[str],
        proxy_url: Optional[str],
        timeout: Optional[float],
        max_retries: int,
    ) -> ClientConfig:
        """Fills unset settings from COVE_API_KEY, COVE_API_URL and COVE_PROXY_URL."""
        key = api_key or os.environ.get("COVE_API_KEY")
        if not key:
            raise CoveAuthenticationError("no API key: pass api_key= or set COVE_API_KEY")
        return ClientConfig(
            api_key=key,
            api_url=api_url or os.environ.get("COVE_API_URL") or DEFAULT_API_URL,
            proxy_url=proxy_url or os.environ.get("COVE_PROXY_URL") or None,
            timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT_S,
            max_retries=max(0, int(max_retries)),
        )


def auth_metadata(api_key: str, sandbox_id: Optional[str] = None) -> tuple[tuple[str, str], ...]:
    """Returns the call metadata: the bearer key, plus cove-sandbox-id for toolbox calls."""
    md: list[tuple[str, str]] = [("authorization", f"Bearer {api_key}")]
    if sandbox_id is not None:
        md.append((SANDBOX_ID_HEADER, sandbox_id))
    return tuple(md)


class Backoff:
    """Jittered exponential backoff ("full jitter") for retrying unary calls."""

    def __init__(self, initial_s: float = 0.2, maximum_s: float = 5.0, multiplier: float = 2.0):
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.multiplier = multiplier

    def delay(self, attempt: int, error: CoveError) -> float:
        """Seconds to sleep before retry number attempt (1-based), honouring RetryInfo."""
        ceiling = min(self.maximum_s, self.initial_s * self.multiplier ** (attempt - 1))
        delay = random.uniform(0, ceiling)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay


def should_retry(error: CoveError, attempt: int, max_retries: int, idempotent: bool) -> bool:
    """Decides whether attempt (1-based) may be followed by another one.

    Only UNAVAILABLE, RESOURCE_EXHAUSTED (throttling, not quota) and ABORTED are retried. Calls
    that are not idempotent (running a command, committing) are retried only on throttling, which
    the server answers before doing anything; an UNAVAILABLE after the request was sent may mean
    the command already ran.
    """
    if attempt > max_retries or not is_retryable(error):
        return False
    if not idempotent:
        return error.reason in ("RATE_LIMITED", "NO_RUNNER_CAPACITY", "STREAM_LIMIT_EXCEEDED")
    return True
