"""Turns a process's output chunks into text per stream, once each, in order."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Any, Optional

#: A stdout/stderr callback: receives decoded text (sync, or in the asyncio client, async too).
OutputCallback = Callable[[str], Any]


class _Stream:
    """One output stream: its callback, incremental UTF-8 decoder and next expected offset."""

    def __init__(self, callback: Optional[OutputCallback], offset: int) -> None:
        self.callback = callback
        self.offset = offset
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")


class OutputDispatcher:
    """Decodes ProcessOutput chunks per stream and says which callback gets which text.

    Offsets make it safe to reconnect: bytes seen before are dropped (replays after a
    reconnect), and a gap (bytes that left the daemon's ring buffer) resets the decoder so a
    half sequence before the gap does not corrupt what follows. PTY output goes to stdout.
    """

    def __init__(
        self,
        on_stdout: Optional[OutputCallback],
        on_stderr: Optional[OutputCallback],
        stdout_offset: int = 0,
        stderr_offset: int = 0,
    ) -> None:
        self._streams = {
            "stdout": _Stream(on_stdout, stdout_offset),
            "stderr": _Stream(on_stderr, stderr_offset),
        }

    @property
    def stdout_offset(self) -> int:
        """The offset of the next stdout byte not yet delivered."""
        return self._streams["stdout"].offset

    @property
    def stderr_offset(self) -> int:
        """The offset of the next stderr byte not yet delivered."""
        return self._streams["stderr"].offset

    def feed(self, output: Any) -> list[tuple[OutputCallback, str]]:
        """Takes one ProcessOutput; returns the (callback, text) deliveries it produces."""
        which = output.WhichOneof("output")
        if which is None:
            return []
        data: bytes = getattr(output, which)
        stream = self._streams["stderr" if which == "stderr" else "stdout"]
        start = output.offset
        if start < stream.offset:
            data = data[stream.offset - start :]
            start = stream.offset
        elif start > stream.offset:
            stream.decoder.reset()
        if not data:
            return []
        stream.offset = start + len(data)
        piece = stream.decoder.decode(data)
        if piece and stream.callback is not None:
            return [(stream.callback, piece)]
        return []

    def finish(self) -> list[tuple[OutputCallback, str]]:
        """Flushes both decoders (a trailing incomplete sequence becomes U+FFFD)."""
        out: list[tuple[OutputCallback, str]] = []
        for stream in self._streams.values():
            tail = stream.decoder.decode(b"", final=True)
            if tail and stream.callback is not None:
                out.append((stream.callback, tail))
        return out
