"""What every SDK must do alike: the configured proxy URL wins, a failed create leaves nothing
behind, git init/log, and stateful code contexts (sync and asyncio) against a real stack."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from cove_sdk import AsyncCove, Cove, CoveError, CoveNotFoundError, Sandbox
from cove_sdk._convert import created_sandbox_id
from cove_sdk._transport import CHANNEL_OPTIONS, ClientConfig

from .conftest import SUITE_LABELS, Stack


def test_configured_proxy_url_wins_over_the_servers(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server reports http://localhost:4000 as toolbox_url; nothing listens there.
    monkeypatch.setenv("COVE_PROXY_URL", stack["proxyUrl"])
    with Cove(api_key=stack["adminKey"], api_url=stack["apiUrl"]) as cove:
        sandbox = cove.create(labels={**SUITE_LABELS, "case": "proxy-env"})
        try:
            assert sandbox.toolbox_url != stack["proxyUrl"]
            assert sandbox.process.exec("echo via env").stdout == "via env\n"
        finally:
            cove.delete(sandbox)
    monkeypatch.setenv("COVE_PROXY_URL", "http://from-env:1")
    assert ClientConfig.resolve("k", None, "http://explicit:2", None, 0).proxy_url == "http://explicit:2"
    assert ClientConfig.resolve("k", None, None, None, 0).proxy_url == "http://from-env:1"


def test_downloads_ask_for_no_compression() -> None:
    # The daemon gzips responses when asked; for file data that made downloads 4-5x slower.
    assert ("grpc.compression_enabled_algorithms_bitset", 1) in CHANNEL_OPTIONS


def test_a_create_that_fails_after_the_sandbox_exists_deletes_it(cove: Cove) -> None:
    labels = {**SUITE_LABELS, "case": "create-cleanup"}
    with pytest.raises(CoveNotFoundError) as caught:
        cove.create(image="cove/no-such-image:never", labels=labels)
    assert caught.value.reason == "IMAGE_NOT_FOUND"
    made = created_sandbox_id(caught.value)
    assert made
    assert cove.get(made).state in ("destroying", "destroyed")
    assert [s.id for s in cove.list(labels=labels) if s.state != "destroying"] == []

    async def main() -> None:
        async with AsyncCove(api_key=cove._config.api_key, api_url=cove._config.api_url) as acove:
            with pytest.raises(CoveNotFoundError) as failed:
                await acove.create(image="cove/no-such-image:never", labels=labels)
            assert (await acove.get(created_sandbox_id(failed.value) or "")).state in ("destroying", "destroyed")

    asyncio.run(main())


def test_created_sandbox_id_never_names_another_requests_sandbox() -> None:
    assert created_sandbox_id(CoveError("x", reason="INTERNAL", metadata={"sandbox_id": "s1"})) == "s1"
    assert created_sandbox_id(CoveError("x", reason="WAIT_TIMED_OUT", metadata={"sandboxId": "s2"})) == "s2"
    assert created_sandbox_id(CoveError("x", reason="IDEMPOTENCY_CONFLICT", metadata={"sandboxId": "s3"})) is None
    assert created_sandbox_id(CoveError("x", reason="QUOTA_EXCEEDED")) is None


def test_git_init_and_log(sandbox: Sandbox) -> None:
    git = sandbox.git
    made = git.init("parity/repo")
    assert (made.path, made.reinitialized) == ("/home/cove/parity/repo", False)
    assert sandbox.process.exec("git -C parity/repo symbolic-ref --short HEAD").stdout == "main\n"
    sandbox.fs.upload_file(b"one\n", "parity/repo/a.txt")
    git.add("parity/repo", ["."])
    first = git.commit("parity/repo", "first", author="A", email="a@example.com").sha
    second = git.commit("parity/repo", "second", author="B", email="b@example.com", allow_empty=True).sha
    log = git.log("parity/repo")
    assert [(c.sha, c.message.strip(), c.author, c.parents) for c in log] == [
        (second, "second", "B", [first]),
        (first, "first", "A", []),
    ]
    assert log[0].timestamp is not None
    assert [c.sha for c in git.log("parity/repo", limit=1)] == [second]
    assert git.init("parity/repo").reinitialized is True
    bare = git.init("parity/bare.git", initial_branch="trunk", bare=True)
    assert sandbox.process.exec(f"cat {bare.path}/HEAD").stdout == "ref: refs/heads/trunk\n"


def test_code_interpreter_keeps_state_streams_and_reports_errors(sandbox: Sandbox) -> None:
    ci = sandbox.code_interpreter
    ctx = ci.create_context(cwd="/tmp")
    assert (ctx.language, ctx.cwd, ctx.execution_count) == ("python", "/tmp", 0)
    assert ctx.id in [c.id for c in ci.list_contexts()]

    ci.run_code("x = 41", ctx)
    printed: list[str] = []
    results: list[str] = []
    run = ci.run_code(
        "import os, sys\nprint('out', os.getcwd())\nprint('err', file=sys.stderr)\nx + 1",
        ctx,
        on_stdout=printed.append,
        on_result=lambda r: results.append(r.text or ""),
    )
    assert (run.stdout, run.stderr, run.text, run.execution_count, run.error) == ("out /tmp\n", "err\n", "42", 2, None)
    assert "".join(printed) == "out /tmp\n" and results == ["42"]

    rich = ci.run_code(
        "class P:\n  def _repr_html_(self): return '<b>hi</b>'\n  def _repr_png_(self): return b'\\x89PNG'\nP()", ctx
    )
    assert rich.results[0].html == "<b>hi</b>" and rich.results[0].png == b"\x89PNG"

    failed = ci.run_code("1 / 0", ctx)
    assert failed.error is not None and failed.error.name == "ZeroDivisionError"
    assert "ZeroDivisionError" in failed.error.traceback

    slow = ci.run_code("import time\ntime.sleep(30)", ctx, timeout=1)
    assert slow.timed_out and slow.error is not None and slow.error.name == "TimeoutError"
    assert ci.run_code("x", ctx).text == "41"  # the context survived its timeout

    # Interrupt from another thread while a loop runs.
    timer = threading.Timer(1.0, ci.interrupt, args=(ctx,))
    timer.start()
    looped = ci.run_code("import time\nwhile True: time.sleep(0.1)", ctx)
    timer.join()
    assert looped.error is not None and looped.error.name == "KeyboardInterrupt"

    ci.run_code("y = 'default'")
    assert ci.run_code("y").text == "'default'"
    assert ci.run_code("'y' in dir()", ctx).text == "False"
    assert ci.restart_context(ctx).execution_count == 0
    assert ci.run_code("'x' in dir()", ctx).text == "False"
    ci.delete_context(ctx)
    with pytest.raises(CoveNotFoundError) as caught:
        ci.run_code("1", ctx)
    assert caught.value.reason == "CONTEXT_NOT_FOUND"


def test_async_code_interpreter(stack: Stack, sandbox: Sandbox) -> None:
    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            ci = (await cove.get(sandbox.id)).code_interpreter
            ctx = await ci.create_context()
            seen: list[str] = []

            async def on_stdout(text: str) -> None:
                seen.append(text)

            await ci.run_code("n = 6", ctx)
            run = await ci.run_code("print('hi')\nn * 7", ctx, on_stdout=on_stdout)
            assert (run.text, "".join(seen)) == ("42", "hi\n")
            started = time.monotonic()
            task = asyncio.create_task(ci.run_code("import time\nwhile True: time.sleep(0.1)", ctx))
            await asyncio.sleep(1.0)
            await ci.interrupt(ctx)
            looped = await task
            assert looped.error is not None and looped.error.name == "KeyboardInterrupt"
            assert time.monotonic() - started < 60
            await ci.delete_context(ctx)
            assert ctx.id not in [c.id for c in await ci.list_contexts()]

    asyncio.run(main())
