"""sandbox.fs for asyncio: streamed upload/download and file operations."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import grpc
from cove.toolbox.v1 import filesystem_service_pb2 as fs_pb2
from cove.toolbox.v1 import filesystem_service_pb2_grpc

from .. import _convert as cv
from .._transport import TRANSFER_TIMEOUT_S, UPLOAD_CHUNK_BYTES
from ..errors import CoveError, from_rpc_error
from ..filesystem import DOWNLOAD_CHUNK_BYTES, LocalPath, ProgressCallback, UploadSource
from ..models import FileInfo, Match, ReplaceResult, SearchFilesResponse
from ._rpc import maybe_await

if TYPE_CHECKING:
    from ._rpc import AsyncRpc


async def _chunks(source: Any) -> AsyncIterator[bytes]:
    """Yields source's bytes in upload-sized chunks; file reads run in a worker thread."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), UPLOAD_CHUNK_BYTES):
            yield bytes(view[start : start + UPLOAD_CHUNK_BYTES])
        return
    while True:
        chunk = source.read(UPLOAD_CHUNK_BYTES)
        chunk = await chunk if asyncio.iscoroutine(chunk) else chunk  # aiofiles-style objects
        if not chunk:
            return
        if isinstance(chunk, str):
            raise CoveError("upload_file needs a binary file object (open it with 'rb')")
        yield chunk


class _ThreadedReader:
    """A local file whose reads run in a worker thread, so the event loop never blocks on disk."""

    def __init__(self, f: Any) -> None:
        self._f = f

    async def read(self, size: int) -> bytes:
        """Reads up to size bytes."""
        return await asyncio.to_thread(self._f.read, size)


class AsyncFileSystem:
    """Files in one sandbox (``sandbox.fs``, asyncio)."""

    def __init__(self, rpc: AsyncRpc, channel: Any, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = filesystem_service_pb2_grpc.FilesystemServiceStub(channel)
        self._metadata = metadata

    async def _unary(self, method: Any, request: Any, **kwargs: Any) -> Any:
        return await self._rpc.unary(method, request, self._metadata, **kwargs)

    async def upload_file(
        self,
        src: UploadSource,
        remote_path: str,
        on_progress: Optional[ProgressCallback] = None,
        timeout: float = TRANSFER_TIMEOUT_S,
    ) -> FileInfo:
        """Uploads content — bytes or a binary file object — to remote_path, streamed in chunks.

        A str (or a path object) is a TypeError: use upload_file_from_path for a local file,
        text.encode() for text.
        """
        cv.check_upload_content(src)
        return await self._upload(src, remote_path, on_progress, timeout)

    async def upload_file_from_path(
        self,
        local_path: LocalPath,
        remote_path: str,
        on_progress: Optional[ProgressCallback] = None,
        timeout: float = TRANSFER_TIMEOUT_S,
    ) -> FileInfo:
        """Uploads the local file at local_path (read in a worker thread as it is sent).

        FileNotFoundError before anything is sent when local_path is not a regular file.
        """
        path = cv.check_local_path(local_path)
        f = await asyncio.to_thread(open, path, "rb")
        try:
            size = os.fstat(f.fileno()).st_size
            return await self._upload(_ThreadedReader(f), remote_path, on_progress, timeout, size)
        finally:
            f.close()

    async def _upload(
        self,
        src: Any,
        remote_path: str,
        on_progress: Optional[ProgressCallback],
        timeout: float,
        total: Optional[int] = None,
    ) -> FileInfo:
        if isinstance(src, (bytes, bytearray, memoryview)):
            total = memoryview(src).nbytes
        elif total is None:
            total = cv.known_size(src)
        call = self._stub.UploadFile(metadata=self._metadata, timeout=timeout)
        try:
            sent = 0
            await call.write(cv.upload_header(remote_path, total))
            async for chunk in _chunks(src):
                await call.write(fs_pb2.UploadFileRequest(data=chunk))  # waits: backpressure
                sent += len(chunk)
                if on_progress is not None:
                    await maybe_await(on_progress(sent, total))
            await call.done_writing()
            res = await call
        except asyncio.InvalidStateError:
            # The server ended the call early (e.g. an error); its status says why.
            try:
                await call
            except grpc.RpcError as e:
                raise from_rpc_error(e) from None
            raise
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        except BaseException:
            call.cancel()
            raise
        return cv.file_info(res.info)

    async def _read(self, remote_path: str, timeout: float) -> AsyncIterator[bytes]:
        request = fs_pb2.ReadFileRequest(path=remote_path, chunk_size_bytes=DOWNLOAD_CHUNK_BYTES)
        call = self._stub.ReadFile(request, metadata=self._metadata, timeout=timeout)
        expected = 0
        try:
            async for message in call:
                if not message.data:
                    continue
                if message.offset != expected:
                    raise CoveError(f"download of {remote_path} skipped from byte {expected} to {message.offset}")
                expected += len(message.data)
                yield message.data
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            call.cancel()

    async def download_file(self, remote_path: str, timeout: float = TRANSFER_TIMEOUT_S) -> bytes:
        """Returns a remote file's content (for large files prefer download_file_to)."""
        parts = [chunk async for chunk in self._read(remote_path, timeout)]
        return b"".join(parts)

    async def download_file_to(
        self,
        remote_path: str,
        local_path: Union[str, "os.PathLike[str]"],
        on_progress: Optional[ProgressCallback] = None,
        timeout: float = TRANSFER_TIMEOUT_S,
    ) -> int:
        """Streams a remote file into local_path (temporary file, then rename); returns its size."""
        target = Path(local_path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        written = 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in self._read(remote_path, timeout):
                    await asyncio.to_thread(f.write, chunk)
                    written += len(chunk)
                    if on_progress is not None:
                        await maybe_await(on_progress(written, None))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    async def list_files(self, path: str, depth: int = 1) -> list[FileInfo]:
        """Lists a directory's entries (depth levels deep), sorted by path."""
        entries: list[FileInfo] = []
        token = ""
        while True:
            res = await self._unary(self._stub.ListDir, fs_pb2.ListDirRequest(path=path, depth=depth, page_token=token))
            entries.extend(cv.file_info(e) for e in res.entries)
            token = res.next_page_token
            if not token:
                return entries

    async def get_file_info(self, path: str) -> FileInfo:
        """Describes one entry (symlinks are not followed)."""
        return cv.file_info((await self._unary(self._stub.Stat, fs_pb2.StatRequest(path=path))).info)

    async def create_folder(self, path: str, mode: Union[str, int] = "755") -> FileInfo:
        """Creates a directory and its missing parents (an existing directory is fine)."""
        request = fs_pb2.MakeDirRequest(path=path, parents=True, mode=cv.octal_mode(mode))
        return cv.file_info((await self._unary(self._stub.MakeDir, request)).info)

    async def delete_file(self, path: str, recursive: bool = False) -> None:
        """Deletes a file, symlink or (empty, or with recursive any) directory."""
        await self._unary(self._stub.Remove, fs_pb2.RemoveRequest(path=path, recursive=recursive))

    async def move_files(self, source: str, destination: str, overwrite: bool = False) -> FileInfo:
        """Moves or renames source to destination."""
        request = fs_pb2.MoveRequest(source=source, destination=destination, overwrite=overwrite)
        return cv.file_info((await self._unary(self._stub.Move, request, idempotent=False)).info)

    async def find_files(self, path: str, pattern: str, regex: bool = False, ignore_case: bool = False) -> list[Match]:
        """Finds lines containing pattern in files under path."""
        request = fs_pb2.FindInFilesRequest(path=path, pattern=pattern, regex=regex, ignore_case=ignore_case)
        return [cv.match(m) for m in (await self._unary(self._stub.FindInFiles, request)).matches]

    async def search_files(self, path: str, pattern: str) -> SearchFilesResponse:
        """Finds entries under path whose relative path matches a glob such as "**/*.py"."""
        res = await self._unary(self._stub.SearchFiles, fs_pb2.SearchFilesRequest(path=path, glob=pattern))
        return SearchFilesResponse(files=list(res.paths), incomplete=res.incomplete)

    async def replace_in_files(
        self, files: list[str], pattern: str, new_value: str, regex: bool = False
    ) -> list[ReplaceResult]:
        """Replaces every occurrence of pattern in each file; one result per file."""
        request = fs_pb2.ReplaceInFilesRequest(paths=list(files), pattern=pattern, replacement=new_value, regex=regex)
        return [cv.replace_result(r) for r in (await self._unary(self._stub.ReplaceInFiles, request)).results]

    async def set_file_permissions(
        self,
        path: str,
        mode: Union[str, int, None] = None,
        owner: Optional[str] = None,
        group: Optional[str] = None,
    ) -> FileInfo:
        """Changes mode ("755"), owner and/or group; unset ones are left as they are."""
        request = cv.set_permissions_request(path, mode, owner, group)
        return cv.file_info((await self._unary(self._stub.SetPermissions, request)).info)
