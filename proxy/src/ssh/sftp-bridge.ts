import * as posix from "node:path/posix";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "@cove/common";
import { type FileInfo, FileType } from "@cove/gen-ts/cove/toolbox/v1/filesystem_pb.js";
import type { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import type { Attributes, SFTPWrapper } from "ssh2";
import { UNARY_TIMEOUT_MS } from "./sandbox-clients.js";
import {
  attrsOf,
  FileReader,
  FileWriter,
  longnameOf,
  SftpError,
  SftpStatus,
  statusOf,
} from "./sftp-files.js";

/** What an SFTP session needs. */
export interface SftpDeps {
  /** The sandbox's FilesystemService. */
  fs: Client<typeof FilesystemService>;
  /** Where the bridge logs. */
  logger: Logger;
  /** Open file and directory handles at once, at most. */
  maxHandles: number;
  /** touch marks the connection as active. */
  touch(): void;
  /** Aborted when the session's channel closes. */
  signal: AbortSignal;
}

/** SSH_FXF_* open flags. */
const OPEN = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 };
/** Entries per READDIR reply. */
const DIR_PAGE = 256;
/** sshd's usual umask, applied to the modes clients ask for (the daemon applies none). */
const UMASK = 0o022;

type Handle =
  | { kind: "dir"; path: string; pageToken: string; done: boolean; chain: Promise<void> }
  | { kind: "read"; reader: FileReader; chain: Promise<void> }
  | { kind: "write"; writer: FileWriter; chain: Promise<void> };

/** The SFTP attributes as ssh2 hands them over: only the fields the client sent are set. */
type IncomingAttrs = Partial<Attributes>;

/**
 * serveSftp answers an SFTP (version 3) session from the sandbox's FilesystemService: files are
 * read through one ReadFile stream per handle and written through one UploadFile stream per
 * handle (replaced atomically at CLOSE); directories are listed page by page. Relative paths
 * resolve against the sandbox user's home, as the daemon does. Symlink creation, hard links and
 * extensions are answered OP_UNSUPPORTED.
 */
export function serveSftp(sftp: SFTPWrapper, deps: SftpDeps): void {
  const { fs, logger } = deps;
  const handles = new Map<string, Handle>();
  let nextHandle = 0;
  let home: Promise<string> | undefined;
  const unary = { timeoutMs: UNARY_TIMEOUT_MS, signal: deps.signal };

  const reply = (reqId: number, work: () => Promise<void>) => {
    deps.touch();
    work().catch((err: unknown) => {
      if (deps.signal.aborted) return;
      const { status, message } = statusOf(err);
      if (status === SftpStatus.FAILURE && !(err instanceof SftpError)) {
        logger.debug("sftp request failed", { err });
      }
      sftp.status(reqId, status, message);
    });
  };
  /** onHandle runs work for a handle after the handle's earlier requests, in arrival order. */
  const onHandle = (reqId: number, id: Buffer, work: (handle: Handle) => Promise<void>) => {
    const handle = handles.get(id.toString("hex"));
    if (handle === undefined) {
      sftp.status(reqId, SftpStatus.FAILURE, "invalid handle");
      return;
    }
    const run = handle.chain.then(() => {
      const done = new Promise<void>((resolve) => {
        reply(reqId, () => work(handle).finally(resolve));
      });
      return done;
    });
    handle.chain = run;
  };
  const addHandle = (reqId: number, handle: Handle) => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(nextHandle++ >>> 0);
    handles.set(id.toString("hex"), handle);
    sftp.handle(reqId, id);
  };
  const checkHandleRoom = () => {
    if (handles.size >= deps.maxHandles) {
      throw new SftpError(SftpStatus.FAILURE, `too many open handles (at most ${deps.maxHandles})`);
    }
  };
  const stat = async (path: string, follow: boolean) =>
    (await fs.stat({ path: nonEmpty(path), followSymlinks: follow }, unary)).info;
  const statIfExists = async (path: string): Promise<FileInfo | undefined> => {
    try {
      return await stat(path, true);
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return undefined;
      throw err;
    }
  };

  sftp.on("OPEN", (reqId: number, filename: string, flags: number, attrs: IncomingAttrs) =>
    reply(reqId, async () => {
      checkHandleRoom();
      const path = nonEmpty(filename);
      if ((flags & OPEN.WRITE) === 0) {
        const info = await stat(path, true);
        if (info?.type === FileType.DIRECTORY) {
          throw new SftpError(SftpStatus.FAILURE, `${path} is a directory`);
        }
        addHandle(reqId, {
          kind: "read",
          reader: new FileReader(fs, path, deps.signal),
          chain: Promise.resolve(),
        });
        return;
      }
      const existing = await statIfExists(path);
      if (existing !== undefined) {
        if ((flags & OPEN.CREAT) !== 0 && (flags & OPEN.EXCL) !== 0) {
          throw new SftpError(SftpStatus.FAILURE, `${path} already exists`);
        }
        if (existing.type === FileType.DIRECTORY) {
          throw new SftpError(SftpStatus.FAILURE, `${path} is a directory`);
        }
      } else {
        if ((flags & OPEN.CREAT) === 0) {
          throw new SftpError(SftpStatus.NO_SUCH_FILE, `${path} does not exist`);
        }
        const parent = await statIfExists(posix.dirname(path));
        if (parent === undefined) {
          throw new SftpError(SftpStatus.NO_SUCH_FILE, `${posix.dirname(path)} does not exist`);
        }
      }
      const truncate = existing === undefined || (flags & OPEN.TRUNC) !== 0;
      const writer = new FileWriter(
        fs,
        path,
        {
          mode: attrs?.mode === undefined ? undefined : attrs.mode & 0o7777 & ~UMASK,
          overwrite: (flags & OPEN.EXCL) === 0,
          keepBytes: truncate ? 0 : Number(existing?.sizeBytes ?? 0n),
          append: (flags & OPEN.APPEND) !== 0,
        },
        deps.signal,
      );
      addHandle(reqId, { kind: "write", writer, chain: Promise.resolve() });
    }),
  );

  sftp.on("READ", (reqId: number, id: Buffer, offset: number, length: number) =>
    onHandle(reqId, id, async (handle) => {
      if (handle.kind !== "read") throw new SftpError(SftpStatus.FAILURE, "not open for reading");
      const data = await handle.reader.read(offset, length);
      if (data === undefined) sftp.status(reqId, SftpStatus.EOF);
      else sftp.data(reqId, data);
    }),
  );

  sftp.on("WRITE", (reqId: number, id: Buffer, offset: number, data: Buffer) => {
    // The packet's buffer may be reused once this handler returns; the upload needs its own.
    const copy = Buffer.from(data);
    onHandle(reqId, id, async (handle) => {
      if (handle.kind !== "write") throw new SftpError(SftpStatus.FAILURE, "not open for writing");
      await handle.writer.write(offset, copy);
      sftp.status(reqId, SftpStatus.OK);
    });
  });

  sftp.on("CLOSE", (reqId: number, id: Buffer) =>
    onHandle(reqId, id, async (handle) => {
      handles.delete(id.toString("hex"));
      if (handle.kind === "read") handle.reader.close();
      if (handle.kind === "write") await handle.writer.close();
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  sftp.on("FSTAT", (reqId: number, id: Buffer) =>
    onHandle(reqId, id, async (handle) => {
      if (handle.kind === "write") {
        const mode = handle.writer.mode ?? 0o644;
        const now = Math.floor(Date.now() / 1000);
        sftp.attrs(reqId, {
          mode: 0o100000 | mode,
          size: handle.writer.size,
          atime: now,
          mtime: now,
        } as Attributes);
        return;
      }
      const path = handle.kind === "read" ? handle.reader.path : handle.path;
      const info = await stat(path, true);
      sftp.attrs(reqId, attrsOf(required(info)) as Attributes);
    }),
  );

  sftp.on("FSETSTAT", (reqId: number, id: Buffer, attrs: IncomingAttrs) =>
    onHandle(reqId, id, async (handle) => {
      if (handle.kind === "write") {
        if (attrs.size !== undefined && attrs.size !== handle.writer.size) {
          throw new SftpError(
            SftpStatus.OP_UNSUPPORTED,
            "changing the size of a file is not supported",
          );
        }
        if (attrs.mode !== undefined) handle.writer.pendingMode = attrs.mode & 0o7777;
        sftp.status(reqId, SftpStatus.OK);
        return;
      }
      await setAttributes(handle.kind === "read" ? handle.reader.path : handle.path, attrs);
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  const setAttributes = async (path: string, attrs: IncomingAttrs) => {
    if (attrs.size !== undefined) {
      const info = required(await stat(path, true));
      if (Number(info.sizeBytes) !== attrs.size) {
        throw new SftpError(
          SftpStatus.OP_UNSUPPORTED,
          "changing the size of a file is not supported",
        );
      }
    }
    const owner = attrs.uid === undefined ? "" : String(attrs.uid);
    const group = attrs.gid === undefined ? "" : String(attrs.gid);
    if (attrs.mode === undefined && owner === "" && group === "") return; // times: not kept.
    await fs.setPermissions(
      {
        path: nonEmpty(path),
        mode: attrs.mode === undefined ? undefined : attrs.mode & 0o7777,
        owner,
        group,
      },
      unary,
    );
  };

  sftp.on("SETSTAT", (reqId: number, path: string, attrs: IncomingAttrs) =>
    reply(reqId, async () => {
      await setAttributes(path, attrs);
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  sftp.on("OPENDIR", (reqId: number, path: string) =>
    reply(reqId, async () => {
      checkHandleRoom();
      const info = required(await stat(path, true));
      if (info.type !== FileType.DIRECTORY) {
        throw new SftpError(SftpStatus.FAILURE, `${path} is not a directory`);
      }
      addHandle(reqId, {
        kind: "dir",
        path: nonEmpty(path),
        pageToken: "",
        done: false,
        chain: Promise.resolve(),
      });
    }),
  );

  sftp.on("READDIR", (reqId: number, id: Buffer) =>
    onHandle(reqId, id, async (handle) => {
      if (handle.kind !== "dir") throw new SftpError(SftpStatus.FAILURE, "not a directory handle");
      while (!handle.done) {
        const page = await fs.listDir(
          { path: handle.path, pageSize: DIR_PAGE, pageToken: handle.pageToken },
          unary,
        );
        handle.pageToken = page.nextPageToken;
        handle.done = page.nextPageToken === "";
        if (page.entries.length === 0) continue;
        const now = Date.now();
        sftp.name(
          reqId,
          page.entries.map((info) => ({
            filename: info.name,
            longname: longnameOf(info, now),
            attrs: attrsOf(info) as Attributes,
          })),
        );
        return;
      }
      sftp.status(reqId, SftpStatus.EOF);
    }),
  );

  sftp.on("STAT", (reqId: number, path: string) =>
    reply(reqId, async () => {
      sftp.attrs(reqId, attrsOf(required(await stat(path, true))) as Attributes);
    }),
  );
  sftp.on("LSTAT", (reqId: number, path: string) =>
    reply(reqId, async () => {
      sftp.attrs(reqId, attrsOf(required(await stat(path, false))) as Attributes);
    }),
  );

  sftp.on("REALPATH", (reqId: number, path: string) =>
    reply(reqId, async () => {
      home ??= stat(".", true).then((info) => required(info).path);
      const resolved = posix.resolve(await home, path === "" ? "." : path);
      sftp.name(reqId, [{ filename: resolved, longname: resolved, attrs: {} as Attributes }]);
    }),
  );

  sftp.on("READLINK", (reqId: number, path: string) =>
    reply(reqId, async () => {
      const info = required(await stat(path, false));
      if (info.type !== FileType.SYMLINK) {
        throw new SftpError(SftpStatus.FAILURE, `${path} is not a symbolic link`);
      }
      const target = info.symlinkTarget;
      sftp.name(reqId, [{ filename: target, longname: target, attrs: {} as Attributes }]);
    }),
  );

  sftp.on("MKDIR", (reqId: number, path: string, attrs: IncomingAttrs) =>
    reply(reqId, async () => {
      await fs.makeDir(
        {
          path: nonEmpty(path),
          parents: false,
          mode: attrs?.mode === undefined ? undefined : attrs.mode & 0o7777 & ~UMASK,
        },
        unary,
      );
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  sftp.on("RMDIR", (reqId: number, path: string) =>
    reply(reqId, async () => {
      const info = required(await stat(path, false));
      if (info.type !== FileType.DIRECTORY) {
        throw new SftpError(SftpStatus.FAILURE, `${path} is not a directory`);
      }
      await fs.remove({ path: nonEmpty(path), recursive: false }, unary);
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  sftp.on("REMOVE", (reqId: number, path: string) =>
    reply(reqId, async () => {
      const info = required(await stat(path, false));
      if (info.type === FileType.DIRECTORY) {
        throw new SftpError(SftpStatus.FAILURE, `${path} is a directory`);
      }
      await fs.remove({ path: nonEmpty(path), recursive: false }, unary);
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  sftp.on("RENAME", (reqId: number, from: string, to: string) =>
    reply(reqId, async () => {
      await fs.move({ source: nonEmpty(from), destination: nonEmpty(to), overwrite: false }, unary);
      sftp.status(reqId, SftpStatus.OK);
    }),
  );

  const closeAll = () => {
    for (const handle of handles.values()) {
      if (handle.kind === "read") handle.reader.close();
      if (handle.kind === "write") handle.writer.abort();
    }
    handles.clear();
  };
  // The client's EOF ends the session: close the channel too (ssh2 leaves that to us), else
  // scp and sftp wait for it forever.
  sftp.on("end", () => {
    closeAll();
    exitWithSuccess(sftp);
    sftp.end();
  });
  sftp.on("close", closeAll);
  deps.signal.addEventListener("abort", closeAll, { once: true });
}

/**
 * exitWithSuccess sends exit-status 0 on the SFTP channel, as sshd does when its sftp-server
 * ends: scp treats a subsystem that ends without one as failed. ssh2's SFTP object has no
 * method for it, so this reaches the channel's protocol the way ssh2's own Channel.exit does.
 */
function exitWithSuccess(sftp: SFTPWrapper): void {
  const channel = sftp as unknown as {
    _protocol?: { exitStatus(channelId: number, status: number): void };
    outgoing?: { id: number; state: string };
  };
  if (channel.outgoing?.state === "open") channel._protocol?.exitStatus(channel.outgoing.id, 0);
}

/** nonEmpty turns SFTP's "" (the current directory) into a path the daemon accepts. */
function nonEmpty(path: string): string {
  return path === "" ? "." : path;
}

/** required unwraps a FileInfo the daemon always sets on success. */
function required(info: FileInfo | undefined): FileInfo {
  if (info === undefined) throw new SftpError(SftpStatus.FAILURE, "no file information");
  return info;
}
