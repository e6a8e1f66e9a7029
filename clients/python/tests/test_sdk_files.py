"""Files: large streamed transfers byte for byte, and the file operations."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from pathlib import Path

import pytest

from cove_sdk import AsyncCove, CoveNotFoundError, Sandbox

from .conftest import Stack

BIG = 32 * 1024 * 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "random.bin"
    with path.open("wb") as f:
        for _ in range(BIG // (1 << 20)):
            f.write(os.urandom(1 << 20))
    return path


def test_32_mib_upload_and_download_are_byte_exact(sandbox: Sandbox, big_file: Path, tmp_path: Path) -> None:
    progress: list[tuple[int, object]] = []
    info = sandbox.fs.upload_file_from_path(
        big_file, "big/random.bin", on_progress=lambda done, total: progress.append((done, total))
    )
    assert info.size == BIG
    assert progress[-1] == (BIG, BIG)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert len(progress) >= 32  # streamed in chunks, not in one message

    # The sandbox sees the same bytes.
    remote_sum = sandbox.process.exec("sha256sum big/random.bin").stdout.split()[0]
    assert remote_sum == _sha256(big_file)

    target = tmp_path / "copy.bin"
    assert sandbox.fs.download_file_to("big/random.bin", target) == BIG
    assert _sha256(target) == _sha256(big_file)
    assert sandbox.fs.download_file("big/random.bin") == big_file.read_bytes()


def test_upload_from_a_file_object(sandbox: Sandbox) -> None:
    data = bytes(range(256)) * 9000  # 2.3 MB, several chunks
    sandbox.fs.upload_file(io.BytesIO(data), "fileobj.bin")
    assert sandbox.fs.download_file("fileobj.bin") == data


def test_upload_file_takes_content_never_a_str(sandbox: Sandbox, tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"from a local file\n")
    # A str is neither guessed to be text nor a path: TypeError, naming the explicit forms.
    for wrong in (str(local), local, "plain text", 42, None):
        with pytest.raises(TypeError) as caught:
            sandbox.fs.upload_file(wrong, "wrong.txt")  # type: ignore[arg-type]
        assert "upload_file_from_path" in str(caught.value)
    with pytest.raises(CoveNotFoundError):
        sandbox.fs.get_file_info("wrong.txt")  # nothing was sent
    # The explicit forms.
    sandbox.fs.upload_file(str(local).encode(), "content.txt")
    assert sandbox.fs.download_file("content.txt") == str(local).encode()
    sandbox.fs.upload_file_from_path(str(local), "from-path.txt")
    assert sandbox.fs.download_file("from-path.txt") == b"from a local file\n"
    with pytest.raises(FileNotFoundError):
        sandbox.fs.upload_file_from_path(tmp_path / "missing.txt", "never.txt")
    with pytest.raises(TypeError):
        sandbox.fs.upload_file_from_path(b"bytes are not a path", "never.txt")  # type: ignore[arg-type]


def test_failed_download_leaves_no_partial_file(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "never.bin"
    with pytest.raises(CoveNotFoundError):
        sandbox.fs.download_file_to("no/such/file.bin", target)
    assert list(tmp_path.iterdir()) == []


def test_file_operations(sandbox: Sandbox) -> None:
    fs = sandbox.fs
    folder = fs.create_folder("ops/nested", mode="750")
    assert folder.is_dir and folder.mode == "750"
    fs.upload_file(b"alpha\nneedle here\nomega\n", "ops/nested/a.txt")
    fs.upload_file(b"no match\n", "ops/b.py")

    names = [f.name for f in fs.list_files("ops")]
    assert names == ["b.py", "nested"]
    assert [f.path for f in fs.list_files("ops", depth=2)][-1].endswith("ops/nested/a.txt")

    info = fs.get_file_info("ops/nested/a.txt")
    assert (info.size, info.is_dir, info.owner) == (24, False, "cove")

    matches = fs.find_files("ops", "needle")
    assert [(m.file.endswith("ops/nested/a.txt"), m.line, m.content) for m in matches] == [(True, 2, "needle here")]
    assert [Path(p).name for p in fs.search_files("ops", "**/*.py").files] == ["b.py"]

    results = fs.replace_in_files(["ops/nested/a.txt", "ops/missing.txt"], "needle", "thread")
    assert (results[0].success, results[0].replacements) == (True, 1)
    assert (results[1].success, results[1].error_reason) == (False, "FILE_NOT_FOUND")
    assert fs.download_file("ops/nested/a.txt") == b"alpha\nthread here\nomega\n"

    assert fs.set_file_permissions("ops/b.py", mode="700").mode == "700"
    moved = fs.move_files("ops/b.py", "ops/c.py")
    assert moved.name == "c.py"
    with pytest.raises(CoveNotFoundError):
        fs.get_file_info("ops/b.py")

    fs.delete_file("ops", recursive=True)
    with pytest.raises(CoveNotFoundError):
        fs.list_files("ops")


def test_async_transfers_are_byte_exact(stack: Stack, sandbox: Sandbox, big_file: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            box = await cove.get(sandbox.id)
            progress: list[int] = []
            info = await box.fs.upload_file_from_path(
                big_file, "async/random.bin", on_progress=lambda done, _: progress.append(done)
            )
            assert info.size == BIG and progress[-1] == BIG
            target = tmp_path / "async-copy.bin"
            assert await box.fs.download_file_to("async/random.bin", target) == BIG
            assert _sha256(target) == _sha256(big_file)
            assert [f.name for f in await box.fs.list_files("async")] == ["random.bin"]
            await box.fs.delete_file("async", recursive=True)
            with pytest.raises(TypeError):
                await box.fs.upload_file(str(big_file), "async/never.bin")  # type: ignore[arg-type]
            await box.fs.upload_file(b"async bytes", "async-bytes.txt")
            assert await box.fs.download_file("async-bytes.txt") == b"async bytes"

    asyncio.run(main())
