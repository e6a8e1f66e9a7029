"""The quickstart a new user runs first, with the sync and the asyncio client."""

from __future__ import annotations

import asyncio
import time

import pytest

from cove_sdk import AsyncCove, Cove, CoveNotFoundError

from .conftest import SUITE_LABELS, Stack

SUM_CODE = 'print("Sum:", 3 + 4)'
# Five lines, 0.3 s apart: the callbacks must see them one by one, in order, while it runs.
LINES_COMMAND = "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done"
EXPECTED_LINES = [f"line {i}" for i in range(1, 6)]
FILE_TEXT = "Hello from Cove ✓\n"


def _lines(pieces: list[tuple[float, str]]) -> list[str]:
    return "".join(piece for _, piece in pieces).splitlines()


def _assert_streamed(pieces: list[tuple[float, str]], wait_returned: float) -> None:
    """The lines came in order, all before wait() returned, and not all at once at the end."""
    assert _lines(pieces) == EXPECTED_LINES
    assert all(at <= wait_returned for at, _ in pieces)
    first_at = pieces[0][0]
    # The command runs ~1.5 s; the first line must have arrived well before it ended.
    assert wait_returned - first_at > 0.8, f"output was not streamed: {pieces}"


def test_quickstart_sync(stack: Stack) -> None:
    with Cove(**stack.client_kwargs()) as cove:
        sandbox = cove.create(labels={**SUITE_LABELS, "test": "quickstart-sync"})
        try:
            assert sandbox.state == "started"

            run = sandbox.process.code_run(SUM_CODE)
            assert (run.exit_code, run.result) == (0, "Sum: 7\n")
            executed = sandbox.process.exec(f"python3 -c '{SUM_CODE}'")
            assert executed.exit_code == 0 and executed.result.strip() == "Sum: 7"

            sandbox.fs.upload_file(FILE_TEXT.encode(), "quickstart/hello.txt")
            assert sandbox.fs.download_file("quickstart/hello.txt").decode() == FILE_TEXT

            pieces: list[tuple[float, str]] = []
            handle = sandbox.process.start(
                LINES_COMMAND, on_stdout=lambda text: pieces.append((time.monotonic(), text))
            )
            assert handle.pid > 0
            result = handle.wait(timeout=30)
            wait_returned = time.monotonic()
            assert result.exit_code == 0
            _assert_streamed(pieces, wait_returned)
        finally:
            cove.delete(sandbox, wait=True)
        assert sandbox.state == "destroyed"
        assert sandbox.id not in [s.id for s in cove.list(labels=SUITE_LABELS)]


def test_quickstart_async(stack: Stack) -> None:
    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            sandbox = await cove.create(labels={**SUITE_LABELS, "test": "quickstart-async"})
            try:
                assert sandbox.state == "started"

                run = await sandbox.process.code_run(SUM_CODE)
                assert (run.exit_code, run.result) == (0, "Sum: 7\n")
                executed = await sandbox.process.exec(f"python3 -c '{SUM_CODE}'")
                assert executed.exit_code == 0 and executed.result.strip() == "Sum: 7"

                await sandbox.fs.upload_file(FILE_TEXT.encode(), "quickstart/hello.txt")
                assert (await sandbox.fs.download_file("quickstart/hello.txt")).decode() == FILE_TEXT

                pieces: list[tuple[float, str]] = []

                async def on_stdout(text: str) -> None:  # async callbacks are awaited in order
                    pieces.append((time.monotonic(), text))

                handle = await sandbox.process.start(LINES_COMMAND, on_stdout=on_stdout)
                assert handle.pid > 0
                result = await handle.wait(timeout=30)
                wait_returned = time.monotonic()
                assert result.exit_code == 0
                _assert_streamed(pieces, wait_returned)
            finally:
                await sandbox.delete(wait=True)
            assert sandbox.state == "destroyed"
            with pytest.raises(CoveNotFoundError):
                await cove.get("0" * 20)

    asyncio.run(main())
