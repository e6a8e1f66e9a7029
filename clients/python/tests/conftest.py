"""Fixtures for the Python SDK tests: one whole Cove stack (test/serve-stack.ts) per session."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from cove_sdk import Cove, CoveError, Sandbox

REPO_ROOT = Path(__file__).resolve().parents[3]
STACK_MAIN = "test/serve-stack.ts"
STARTUP_TIMEOUT_S = 180.0
SHUTDOWN_TIMEOUT_S = 60.0
#: Every sandbox the suite creates carries this label, so teardown can find leftovers.
SUITE_LABELS = {"suite": "python-sdk"}


class Stack(dict):
    """The stack's JSON line: apiUrl, proxyUrl, sshPort, adminKey."""

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for Cove(...) / AsyncCove(...) against this stack."""
        return {"api_key": self["adminKey"], "api_url": self["apiUrl"], "proxy_url": self["proxyUrl"]}


def _forward_stdout(stream: Any, lines: queue.Queue[Optional[str]]) -> None:
    """Forwards the stack's stdout lines to a queue (None at EOF) so the pipe never fills up."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stops the stack: closes its stdin (it then stops everything), kills its group if it lingers."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Starts test/serve-stack.ts once per session (Postgres, Redis, server, runner, proxy).

    COVE_SDK_TEST_STACK may hold the JSON line of a stack that is already running (for quick
    local iterations); then nothing is started or stopped.
    """
    given = os.environ.get("COVE_SDK_TEST_STACK")
    if given:
        yield Stack(json.loads(given))
        return
    tsx = REPO_ROOT / "node_modules" / ".bin" / "tsx"
    proc = subprocess.Popen(
        [str(tsx), STACK_MAIN],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**os.environ, "COVE_STACK_NAME": "pysdk"},
        # Its own process group, so that a stuck tsx and the node process it runs die together.
        start_new_session=True,
    )
    try:
        lines: queue.Queue[Optional[str]] = queue.Queue()
        threading.Thread(target=_forward_stdout, args=(proc.stdout, lines), daemon=True).start()
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"{STACK_MAIN} printed nothing within {STARTUP_TIMEOUT_S:.0f} s")
        if first is None:
            pytest.fail(f"{STACK_MAIN} exited with {proc.wait()} before it was ready")
        info = Stack(json.loads(first))
        assert info["apiUrl"].startswith("http://") and info["proxyUrl"].startswith("http://"), first
        yield info
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def cove(stack: Stack) -> Iterator[Cove]:
    """A sync client for the whole session; deletes sandboxes the suite left behind."""
    client = Cove(**stack.client_kwargs())
    try:
        yield client
    finally:
        try:
            for leftover in client.list(labels=SUITE_LABELS):
                client.delete(leftover)
        except CoveError:
            pass
        client.close()


@pytest.fixture(scope="session")
def sandbox(cove: Cove) -> Iterator[Sandbox]:
    """One started sandbox shared by the tests that do not create their own."""
    created = cove.create(labels={**SUITE_LABELS, "fixture": "shared"})
    try:
        yield created
    finally:
        cove.delete(created)
