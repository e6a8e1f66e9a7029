"""Processes: streaming details, reattach, kill, stdin, timeouts and sessions."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from cove_sdk import AsyncCove, CoveConflictError, CoveTimeoutError, Sandbox

from .conftest import Stack

# Writes every byte of multi-byte characters separately (flushing and pausing in between), so
# that each character reaches the client split across several chunks.
SPLIT_TEXT = "žluťoučký € 😀 ✓"
SPLIT_CODE = (
    "import sys, time\n"
    f"data = {SPLIT_TEXT!r}.encode()\n"
    "for i in range(len(data)):\n"
    "    for stream in (sys.stdout.buffer, sys.stderr.buffer):\n"
    "        stream.write(data[i:i + 1]); stream.flush()\n"
    "    time.sleep(0.02)\n"
)


def _tag() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def test_utf8_split_across_chunks_arrives_whole(sandbox: Sandbox) -> None:
    sandbox.fs.upload_file(SPLIT_CODE.encode(), "split.py")
    out: list[str] = []
    err: list[str] = []
    handle = sandbox.process.start("python3 split.py", on_stdout=out.append, on_stderr=err.append)
    assert handle.wait(timeout=60).exit_code == 0
    for pieces in (out, err):
        assert "".join(pieces) == SPLIT_TEXT
        assert not any("\ufffd" in piece for piece in pieces)
        # Split into many chunks indeed: one per character at least (bytes were written singly).
        assert len(pieces) >= len(SPLIT_TEXT) // 2


def test_reattach_by_tag_replays_then_follows(sandbox: Sandbox) -> None:
    tag = _tag()
    first: list[str] = []
    got_first_line = threading.Event()

    def on_first(text: str) -> None:
        first.append(text)
        got_first_line.set()

    handle = sandbox.process.start(
        "for i in 1 2 3 4 5 6; do echo step $i; sleep 0.25; done", on_stdout=on_first, tag=tag
    )
    assert handle.tag == tag
    assert got_first_line.wait(10)
    handle.disconnect()  # the client goes away; the process keeps running

    again: list[str] = []
    reattached = sandbox.process.connect(tag, on_stdout=again.append)
    assert reattached.pid == handle.pid
    assert reattached.wait(timeout=30).exit_code == 0
    assert "".join(again) == "".join(f"step {i}\n" for i in range(1, 7))

    # By pid, from an offset: only the bytes after it.
    tail: list[str] = []
    offset = len("step 1\nstep 2\n")
    by_pid = sandbox.process.connect(handle.pid, on_stdout=tail.append, from_offset=offset)
    by_pid.wait(timeout=10)
    assert "".join(tail) == "".join(f"step {i}\n" for i in range(3, 7))


def test_a_running_tag_cannot_be_reused(sandbox: Sandbox) -> None:
    tag = _tag()
    handle = sandbox.process.start("sleep 30", tag=tag)
    try:
        with pytest.raises(CoveConflictError) as caught:
            sandbox.process.start("true", tag=tag)
        assert caught.value.reason == "TAG_IN_USE"
    finally:
        handle.kill()
    assert handle.wait(timeout=10).signal == 9


def test_kill_stops_the_process_and_wait_can_time_out(sandbox: Sandbox) -> None:
    handle = sandbox.process.start("sleep 60")
    with pytest.raises(CoveTimeoutError):
        handle.wait(timeout=0.5)
    handle.kill()
    ended = handle.wait(timeout=10)
    assert (ended.exit_code, ended.signal) == (137, 9)


def test_stdin_is_closed_by_default_and_can_be_opened(sandbox: Sandbox) -> None:
    # A command reading stdin must not hang: it sees end of file.
    assert sandbox.process.exec("cat; echo done", timeout=10).stdout == "done\n"

    out: list[str] = []
    handle = sandbox.process.start("cat", on_stdout=out.append, open_stdin=True)
    handle.send_input("hello ")
    handle.send_input(b"world\n")
    handle.close_stdin()
    assert handle.wait(timeout=10).exit_code == 0
    assert "".join(out) == "hello world\n"


def test_exec_timeout_kills_the_command(sandbox: Sandbox) -> None:
    result = sandbox.process.exec("echo before; sleep 30; echo after", timeout=1)
    assert result.timed_out
    assert result.stdout == "before\n"


def test_exec_keeps_stdout_and_stderr_apart_with_env_and_cwd(sandbox: Sandbox) -> None:
    result = sandbox.process.exec("echo $GREETING; pwd; echo oops >&2; exit 3", cwd="/tmp", env={"GREETING": "hi"})
    assert (result.exit_code, result.stdout, result.stderr) == (3, "hi\n/tmp\n", "oops\n")


def test_callback_errors_surface_from_wait(sandbox: Sandbox) -> None:
    def explode(_text: str) -> None:
        raise ValueError("callback failed")

    handle = sandbox.process.start("echo hi", on_stdout=explode)
    with pytest.raises(ValueError, match="callback failed"):
        handle.wait(timeout=10)


def test_session_keeps_cd_export_and_heredocs(sandbox: Sandbox) -> None:
    session_id = f"s-{uuid.uuid4().hex[:10]}"
    sandbox.process.create_session(session_id)
    try:
        sandbox.process.execute_session_command(session_id, "mkdir -p /tmp/work && cd /tmp/work")
        sandbox.process.execute_session_command(session_id, "export GREETING='hello session'")
        sandbox.process.execute_session_command(session_id, "cat > note.txt <<'EOF'\nfrom a heredoc\nEOF")
        result = sandbox.process.execute_session_command(session_id, 'pwd; echo "$GREETING"; cat note.txt')
        assert result.exit_code == 0
        assert result.stdout == "/tmp/work\nhello session\nfrom a heredoc\n"

        # A command run asynchronously, followed live through its logs.
        started = sandbox.process.execute_session_command(
            session_id, "for i in 1 2 3; do echo tick $i; sleep 0.2; done; echo bye >&2", run_async=True
        )
        assert started.exit_code is None
        live: list[str] = []
        logs = sandbox.process.get_session_command_logs(session_id, started.cmd_id, on_stdout=live.append)
        assert "".join(live) == "tick 1\ntick 2\ntick 3\n"
        assert (logs.exit_code, logs.stdout) == (0, "tick 1\ntick 2\ntick 3\n")
        assert "bye\n" in logs.stderr
        assert sandbox.process.get_session_command(session_id, started.cmd_id).exit_code == 0
    finally:
        sandbox.process.delete_session(session_id)
    assert session_id not in [s.session_id for s in sandbox.process.list_sessions()]


def test_session_reports_its_cwd_and_adds_nothing_to_stderr(sandbox: Sandbox) -> None:
    session_id = f"s-{uuid.uuid4().hex[:10]}"
    sandbox.process.create_session(session_id)
    try:
        result = sandbox.process.execute_session_command(session_id, "cd /tmp")
        assert (result.exit_code, result.stderr) == (0, "")
        assert sandbox.process.get_session(session_id).cwd == "/tmp"
    finally:
        sandbox.process.delete_session(session_id)


def test_async_streaming_utf8_and_reattach(stack: Stack, sandbox: Sandbox) -> None:
    sandbox.fs.upload_file(SPLIT_CODE.encode(), "split.py")

    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            box = await cove.get(sandbox.id)
            out: list[str] = []
            handle = await box.process.start("python3 split.py", on_stdout=out.append, tag=_tag())
            assert (await handle.wait(timeout=60)).exit_code == 0
            assert "".join(out) == SPLIT_TEXT and not any("\ufffd" in p for p in out)

            replay: list[str] = []
            again = await box.process.connect(handle.tag, on_stdout=replay.append)
            await again.wait(timeout=10)
            assert "".join(replay) == SPLIT_TEXT

            session_id = f"s-{uuid.uuid4().hex[:10]}"
            await box.process.create_session(session_id)
            await box.process.execute_session_command(session_id, "cd /tmp && export X=42")
            result = await box.process.execute_session_command(session_id, "echo $PWD $X")
            assert result.stdout == "/tmp 42\n"
            await box.process.delete_session(session_id)

    asyncio.run(main())
