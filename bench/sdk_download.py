"""Times the Python SDK's download_file for bench/sdk-downloads.ts (sync and asyncio).

Reads COVE_API_KEY, COVE_API_URL and COVE_PROXY_URL; usage: sdk_download.py <sync|async>
<sandbox id> <path> <rounds>. Prints one JSON line per round: {"seconds": ..., "bytes": ...}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from cove_sdk import AsyncCove, Cove


def run_sync(sandbox_id: str, path: str, rounds: int) -> None:
    """Downloads path rounds times with the sync client."""
    with Cove() as cove:
        sandbox = cove.get(sandbox_id)
        for _ in range(rounds):
            started = time.monotonic()
            data = sandbox.fs.download_file(path)
            print(json.dumps({"seconds": time.monotonic() - started, "bytes": len(data)}), flush=True)


async def run_async(sandbox_id: str, path: str, rounds: int) -> None:
    """Downloads path rounds times with the asyncio client."""
    async with AsyncCove() as cove:
        sandbox = await cove.get(sandbox_id)
        for _ in range(rounds):
            started = time.monotonic()
            data = await sandbox.fs.download_file(path)
            print(json.dumps({"seconds": time.monotonic() - started, "bytes": len(data)}), flush=True)


if __name__ == "__main__":
    mode, sandbox_id, path, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "sync":
        run_sync(sandbox_id, path, rounds)
    else:
        asyncio.run(run_async(sandbox_id, path, rounds))
