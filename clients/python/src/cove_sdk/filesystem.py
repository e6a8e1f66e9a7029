"""sandbox.fs: upload and download (streamed), list, move, delete, search and edit files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Optional, Union

import grpc
from cove.toolbox.v1 import filesystem_service_pb2 as fs_pb2
from cove.toolbox.v1 import filesystem_service_pb2_grpc

from . import _convert as cv
from ._transport import TRANSFER_TIMEOUT_S, UPLOAD_CHUNK_BYTES
from .errors import CoveError, from_rpc_error
from .models import FileInfo, Match, ReplaceResult, SearchFilesResponse

if TYPE_CHECKING:
    from ._rpc import SyncRpc

#: What upload_file accepts: the file's content, as bytes or a binary file object — never a str
#: (text is not guessed to be content or a path; local files go through upload_file_from_path).
UploadSource = Union[bytes, bytearray, memoryview, IO[bytes]]
#: A local file for upload_file_from_path.
LocalPath = Union[str, "os.PathLike[str]"]
#: on_progress(bytes_done, total_bytes_or_None)
ProgressCallback = Callable[[int, Optional[int]], Any]

DOWNLOAD_CHUNK_BYTES = 1024 * 1024


def upload_messages(
    source: Any, remote_path: str, on_progress: Optional[ProgressCallback]
) -> Iterator[fs_pb2.UploadFileRequest]:
    """Yields the UploadFile stream: a header, then chunks read lazily from source.

    File objects are read one chunk at a time, so the file is never held in memory.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        total: Optional[int] = len(view)
        yield cv.upload_header(remote_path, total)
        sent = 0
        for start in range(0, len(view), UPLOAD_CHUNK_BYTES):
            chunk = bytes(view[start : start + UPLOAD_CHUNK_BYTES])
            yield fs_pb2.UploadFileRequest(data=chunk)
            sent += len(chunk)
            if on_progress is not None:
                on_progress(sent, total)
        return
    total = cv.known_size(source)
    yield cv.upload_header(remote_path, total)
    sent = 0
    while True:
        chunk = source.read(UPLOAD_CHUNK_BYTES)
        if not chunk:
            break
        if isinstance(chunk, str):
            raise CoveError("upload_file needs a binary file object (open it with 'rb')")
        yield fs_pb2.UploadFileRequest(data=chunk)
        sent += len(chunk)
        if on_progress is not None:
            on_progress(sent, total)


class _Capturing:
    """Wraps the request iterator so an exception reading the local file is not lost in grpc."""

    def __init__(self, messages: Iterator[fs_pb2.UploadFileRequest]) -> None:
        self._messages = messages
        self.error: Optional[BaseException] = None

    def __iter__(self) -> _Capturing:
        return self

    def __next__(self) -> fs_pb2.UploadFileRequest:
        try:
            return next(self._messages)
        except StopIteration:
            raise
        except BaseException as e:
            self.error = e
            raise


class FileSystem:
    """Files in one sandbox (``sandbox.fs``). Relative paths resolve against the user's home."""

    def __init__(self, rpc: SyncRpc, channel: grpc.Channel, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = filesystem_service_pb2_grpc.FilesystemServiceStub(channel)
        self._metadata = metadata

    def _unary(self, method: Any, request: Any, **kwargs: Any) -> Any:
        return self._rpc.unary(method, request, self._metadata, **kwargs)

    def upload_file(
        self,
        src: UploadSource,
        remote_path: str,
        on_progress: Optional[ProgressCallback] = None,
        timeout: float = TRANSFER_TIMEOUT_S,
    ) -> FileInfo:
        """Uploads content — bytes or a binary file object — to remote_path (atomic replace).

        Streamed in 1 MiB chunks; parents are created. on_progress(done, total) is called after
        each chunk (total is None when unknown). A str (or a path object) is a TypeError: use
        upload_file_from_path for a local file, text.encode() for text.
        """
        # Validate the source before the call so that a bad argument is not a gRPC error.
        cv.check_upload_content(src)
        return self._upload(src, remote_path, on_progress, timeout)

    def upload_file_from_path(
        self,
        local_path: LocalPath,
        remote_path: str,
        on_progress: Optional[ProgressCallback] = None,
        timeout: float = TRANSFER_TIMEOUT_S,
    ) -> FileInfo:
        """Uploads the local file at local_path to remote_path, read as it is sent.

        FileNotFoundError before anything is sent when local_path is not a regular file.
        """
        path = cv.check_local_path(local_path)
        with open(path, "rb") as f:
            return self._upload(f, remote_path, on_progress, timeout)

    def _upload(
        self, src: Any, remote_path: str, on_progress: Optional[ProgressCallback], timeout: float
    ) -> FileInfo:
        source = _Capturing(upload_messages(src, remote_path, on_progress))
        try:
            res = self._stub.UploadFile(source, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as e:
            if source.error is not None:
                raise source.error from None
            raise from_rpc_error(e) from None
        return cv.file_info(res.info)

    def _read(self, remote_path: str, timeout: float) -> Iterator[bytes]:
        """Yields a remote file's bytes chunk by chunk, checking that offsets are contiguous."""
        request = fs_pb2.ReadFileRequest(path=remote_path, chunk_size_bytes=DOWNLOAD_CHUNK_BYTES)
        call = self._stub.ReadFile(request, metadata=self._metadata, timeout=timeout)
        expected = 0
        try:
            for message in call:
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

    def download_file(self, remote_path: str, timeout: float = TRANSFER_TIMEOUT_S) -> bytes:
        """Returns a remote file's content (for large files prefer download_file_to)."""
        return b"".join(self._read(remote_path, timeout))

    def download_file_to(
        self,
        remote_path: str,
        local_path: Union[str, "os.PathLike[str]"],
        on_progress: Optional[ProgressCallback] = None,
        timeout: float = TRANSFER_TIMEOUT_S,
    ) -> int:
        """Streams a remote file into local_path (written to a temporary file, then renamed).

        Returns the number of bytes written; a failed download leaves local_path untouched.
        """
        target = Path(local_path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        written = 0
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in self._read(remote_path, timeout):
                    f.write(chunk)
                    written += len(chunk)
                    if on_progress is not None:
                        on_progress(written, None)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def list_files(self, path: str, depth: int = 1) -> list[FileInfo]:
        """Lists a directory's entries (depth levels deep), sorted by path."""
        entries: list[FileInfo] = []
        token = ""
        while True:
            request = fs_pb2.ListDirRequest(path=path, depth=depth, page_token=token)
            res = self._unary(self._stub.ListDir, request)
            entries.extend(cv.file_info(e) for e in res.entries)
            token = res.next_page_token
            if not token:
                return entries

    def get_file_info(self, path: str) -> FileInfo:
        """Describes one entry (symlinks are not followed)."""
        return cv.file_info(self._unary(self._stub.Stat, fs_pb2.StatRequest(path=path)).info)

    def create_folder(self, path: str, mode: Union[str, int] = "755") -> FileInfo:
        """Creates a directory and its missing parents (an existing directory is fine)."""
        request = fs_pb2.MakeDirRequest(path=path, parents=True, mode=cv.octal_mode(mode))
        return cv.file_info(self._unary(self._stub.MakeDir, request).info)

    def delete_file(self, path: str, recursive: bool = False) -> None:
        """Deletes a file, symlink or (empty, or with recursive any) directory."""
        self._unary(self._stub.Remove, fs_pb2.RemoveRequest(path=path, recursive=recursive))

    def move_files(self, source: str, destination: str, overwrite: bool = False) -> FileInfo:
        """Moves or renames source to destination (the new path, not a folder to move into)."""
        request = fs_pb2.MoveRequest(source=source, destination=destination, overwrite=overwrite)
        return cv.file_info(self._unary(self._stub.Move, request, idempotent=False).info)

    def find_files(self, path: str, pattern: str, regex: bool = False, ignore_case: bool = False) -> list[Match]:
        """Finds lines containing pattern in files under path."""
        request = fs_pb2.FindInFilesRequest(path=path, pattern=pattern, regex=regex, ignore_case=ignore_case)
        return [cv.match(m) for m in self._unary(self._stub.FindInFiles, request).matches]

    def search_files(self, path: str, pattern: str) -> SearchFilesResponse:
        """Finds entries under path whose relative path matches a glob such as "**/*.py"."""
        res = self._unary(self._stub.SearchFiles, fs_pb2.SearchFilesRequest(path=path, glob=pattern))
        return SearchFilesResponse(files=list(res.paths), incomplete=res.incomplete)

    def replace_in_files(
        self, files: list[str], pattern: str, new_value: str, regex: bool = False
    ) -> list[ReplaceResult]:
        """Replaces every occurrence of pattern in each file; one result per file."""
        request = fs_pb2.ReplaceInFilesRequest(
            paths=list(files), pattern=pattern, replacement=new_value, regex=regex
        )
        return [cv.replace_result(r) for r in self._unary(self._stub.ReplaceInFiles, request).results]

    def set_file_permissions(
        self,
        path: str,
        mode: Union[str, int, None] = None,
        owner: Optional[str] = None,
        group: Optional[str] = None,
    ) -> FileInfo:
        """Changes mode ("755"), owner and/or group; unset ones are left as they are."""
        request = cv.set_permissions_request(path, mode, owner, group)
        return cv.file_info(self._unary(self._stub.SetPermissions, request).info)
