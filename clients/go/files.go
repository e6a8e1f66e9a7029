package cove

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	toolboxv1 "cove.dev/gen/cove/toolbox/v1"
)

// uploadChunkBytes is the data size of each UploadFile message (the daemon takes up to 4 MiB).
const uploadChunkBytes = 1 << 20

// readChunkBytes is the data size ReadFile asks the daemon for per message (its default is
// 256 KiB; larger messages mean fewer frames and allocations per byte).
const readChunkBytes = 1 << 20

// WriteFile writes everything read from r (the content: bytes.Reader, strings.Reader, a
// file, a network stream …) to path in the sandbox, creating missing parent directories and
// replacing any existing file. A local file by its path goes through UploadFileFromPath. The file appears atomically: readers see the
// old content or the new, never a part. Relative paths resolve against the home directory.
func (s *Sandbox) WriteFile(ctx context.Context, path string, r io.Reader) error {
	ctx, cancel := withDefaultTimeout(ctx, s.client.transferTimeout)
	defer cancel()
	stream := s.files.UploadFile(ctx)
	send := func(msg *toolboxv1.UploadFileRequest) bool {
		// Send reports io.EOF when the server has already failed the call; the reason
		// comes from CloseAndReceive.
		return stream.Send(msg) == nil
	}
	ok := send(&toolboxv1.UploadFileRequest{Message: &toolboxv1.UploadFileRequest_Header{
		Header: &toolboxv1.UploadFileHeader{Path: path},
	}})
	buf := make([]byte, uploadChunkBytes)
	for ok {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			ok = send(&toolboxv1.UploadFileRequest{Message: &toolboxv1.UploadFileRequest_Data{
				Data: append([]byte(nil), buf[:n]...),
			}})
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			// Cancelling before half-closing aborts the upload; the daemon keeps nothing.
			cancel()
			_, _ = stream.CloseAndReceive()
			return err
		}
	}
	_, err := stream.CloseAndReceive()
	return fromRPC(err)
}

// UploadFileFromPath uploads the local file at localPath to remotePath in the sandbox, read
// as it is sent (see WriteFile). It is the only call that reads a local path: WriteFile takes
// the content itself. A missing local file is an *fs.PathError before anything is sent.
func (s *Sandbox) UploadFileFromPath(ctx context.Context, localPath, remotePath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return &fs.PathError{Op: "upload", Path: localPath, Err: errors.New("not a regular file")}
	}
	return s.WriteFile(ctx, remotePath, f)
}

// DownloadFileToPath copies the sandbox's file at remotePath to localPath, through a
// temporary file in the same directory that is renamed into place once complete: a failed
// download leaves localPath as it was.
func (s *Sandbox) DownloadFileToPath(ctx context.Context, remotePath, localPath string) error {
	dir, base := filepath.Split(localPath)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := s.ReadFile(ctx, remotePath, tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), localPath)
}

// ReadFile copies the file at path in the sandbox to w. A missing file is ErrNotFound
// (ErrFileNotFound).
func (s *Sandbox) ReadFile(ctx context.Context, path string, w io.Writer) error {
	ctx, cancel := withDefaultTimeout(ctx, s.client.transferTimeout)
	defer cancel()
	stream, err := s.files.ReadFile(ctx, connect.NewRequest(&toolboxv1.ReadFileRequest{Path: path, ChunkSizeBytes: readChunkBytes}))
	if err != nil {
		return fromRPC(err)
	}
	defer func() { _ = stream.Close() }()
	var next int64
	for stream.Receive() {
		msg := stream.Msg()
		if len(msg.GetData()) == 0 {
			continue // the first message carries only info
		}
		if msg.GetOffset() != next {
			return localError(connect.CodeDataLoss, "read %s: chunk at offset %d, expected %d", path, msg.GetOffset(), next)
		}
		if _, err := w.Write(msg.GetData()); err != nil {
			return err
		}
		next += int64(len(msg.GetData()))
	}
	return fromRPC(stream.Err())
}

// FileInfo describes one entry of a sandbox's filesystem.
type FileInfo struct {
	// Name is the last path element.
	Name string
	// Path is the absolute path.
	Path string
	// Size is the length in bytes of a regular file.
	Size int64
	// Mode holds the permission bits and the type bits of fs.FileMode.
	Mode fs.FileMode
	// ModTime is the last content modification.
	ModTime time.Time
	// Owner and Group name the owning user and group.
	Owner, Group string
	// SymlinkTarget is a symlink's raw target; empty for other entries.
	SymlinkTarget string
}

// IsDir reports whether the entry is a directory.
func (f FileInfo) IsDir() bool { return f.Mode.IsDir() }

func fileInfoOf(info *toolboxv1.FileInfo) FileInfo {
	mode := fs.FileMode(info.GetMode() & 0o777)
	if info.GetMode()&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if info.GetMode()&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if info.GetMode()&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch info.GetType() {
	case toolboxv1.FileType_FILE_TYPE_DIRECTORY:
		mode |= fs.ModeDir
	case toolboxv1.FileType_FILE_TYPE_SYMLINK:
		mode |= fs.ModeSymlink
	case toolboxv1.FileType_FILE_TYPE_OTHER:
		mode |= fs.ModeIrregular
	}
	return FileInfo{
		Name:          info.GetName(),
		Path:          info.GetPath(),
		Size:          info.GetSizeBytes(),
		Mode:          mode,
		ModTime:       info.GetModifyTime().AsTime(),
		Owner:         info.GetOwner(),
		Group:         info.GetGroup(),
		SymlinkTarget: info.GetSymlinkTarget(),
	}
}

// ListFiles lists the direct children of the directory at path, sorted by path.
func (s *Sandbox) ListFiles(ctx context.Context, path string) ([]FileInfo, error) {
	req := &toolboxv1.ListDirRequest{Path: path, Depth: 1}
	var out []FileInfo
	for {
		res, err := unary(ctx, s.client, s.client.timeout, s.files.ListDir, req)
		if err != nil {
			return nil, err
		}
		for _, e := range res.GetEntries() {
			out = append(out, fileInfoOf(e))
		}
		if res.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = res.GetNextPageToken()
	}
}
