import * as fs from "node:fs";
import * as nodePath from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Duration, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, unavailable, withKeepalive } from "@cove/common";
import {
  FileEventType,
  type FileInfo,
  FileInfoSchema,
  FileType,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_pb.js";
import {
  FilesystemService,
  type FindInFilesRequest,
  type ListDirRequest,
  type MakeDirRequest,
  type MoveRequest,
  type ReadFileRequest,
  type ReadFileResponseSchema,
  type RemoveRequest,
  type ReplaceInFilesRequest,
  type SearchFilesRequest,
  type SetPermissionsRequest,
  type StatRequest,
  type UploadFileRequest,
  type WatchDirRequest,
  type WatchDirResponseSchema,
  type WriteFileRequest,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { type DaemonContext, runAsRules, type ServiceModule } from "../context.js";
import { findInFiles, replaceInFiles, searchFiles } from "../domain/file-search.js";
import { type ChangeType, Watches } from "../domain/file-watch.js";
import { DEFAULT_UPLOAD_LIMIT_BYTES, Filesystem, type WriteRequest } from "../domain/filesystem.js";
import type { EntryType, FileEntry } from "../domain/filesystem-info.js";
import { type DocumentReader, readDocumentHere } from "../domain/lsp-document.js";
import { sandboxUser } from "../domain/run-as.js";
import type { OsUser } from "../domain/users.js";
import { createHelperDocumentReader } from "../filesystem-helper/helper-client.js";
import { FILESYSTEM_SOCKET_NAME, FilesystemHelpers } from "../filesystem-helper/helper-pool.js";

const fileTypes: Record<EntryType, FileType> = {
  file: FileType.FILE,
  directory: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
  other: FileType.OTHER,
};

const eventTypes: Record<ChangeType, FileEventType> = {
  create: FileEventType.CREATE,
  write: FileEventType.WRITE,
  remove: FileEventType.REMOVE,
  rename: FileEventType.RENAME,
  chmod: FileEventType.CHMOD,
};

/** toFileInfo builds the FileInfo message of a domain entry. */
function toFileInfo(e: FileEntry): FileInfo {
  return create(FileInfoSchema, {
    name: e.name,
    path: e.path,
    type: fileTypes[e.type],
    sizeBytes: e.sizeBytes,
    mode: e.mode,
    owner: e.owner,
    group: e.group,
    modifyTime: timestampFromDate(e.modifyTime),
    symlinkTarget: e.symlinkTarget,
  });
}

function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

/** FilesystemHandler serves cove.toolbox.v1.FilesystemService over the Filesystem domain. */
export class FilesystemHandler implements ServiceImpl<typeof FilesystemService> {
  constructor(
    private readonly fsys: Filesystem,
    private readonly watches: Watches,
    private readonly keepaliveMs: number,
  ) {}

  async stat(req: StatRequest) {
    return { info: toFileInfo(await this.fsys.stat(req.path, req.followSymlinks)) };
  }

  async listDir(req: ListDirRequest) {
    const page = await this.fsys.listDir(req.path, req.depth, req.pageSize, req.pageToken);
    return { entries: page.entries.map(toFileInfo), nextPageToken: page.nextPageToken };
  }

  async makeDir(req: MakeDirRequest) {
    return { info: toFileInfo(await this.fsys.makeDir(req.path, req.parents, req.mode)) };
  }

  async move(req: MoveRequest) {
    return { info: toFileInfo(await this.fsys.move(req.source, req.destination, req.overwrite)) };
  }

  async remove(req: RemoveRequest) {
    await this.fsys.remove(req.path, req.recursive);
    return {};
  }

  async *readFile(
    req: ReadFileRequest,
  ): AsyncGenerator<MessageInitShape<typeof ReadFileResponseSchema>> {
    for await (const part of this.fsys.readFile(
      req.path,
      req.offset,
      req.length,
      req.chunkSizeBytes,
    )) {
      if (part.kind === "info") yield { info: toFileInfo(part.info) };
      else yield { data: part.data, offset: part.offset };
    }
  }

  async uploadFile(requests: AsyncIterable<UploadFileRequest>, ctx: HandlerContext) {
    const it = this.fsys.guardIdle(requests, ctx.signal)[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done || first.value.message.case !== "header") {
      throw invalidArgument("header", "the first message must be a header");
    }
    const h = first.value.message.value;
    const header: WriteRequest = {
      path: h.path,
      mode: h.mode,
      createParents: h.createParents,
      overwrite: h.overwrite,
      sizeBytes: h.sizeBytes,
    };
    async function* data(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        if (next.value.message.case !== "data") {
          throw invalidArgument("header", "only the first message may be a header");
        }
        yield next.value.message.value;
      }
    }
    const result = await this.fsys.upload(header, data());
    return { info: toFileInfo(result.info), writtenBytes: BigInt(result.writtenBytes) };
  }

  async writeFile(req: WriteFileRequest) {
    const info = await this.fsys.writeFile(
      {
        path: req.path,
        mode: req.mode,
        createParents: req.createParents,
        overwrite: req.overwrite,
      },
      req.data,
    );
    return { info: toFileInfo(info) };
  }

  async setPermissions(req: SetPermissionsRequest) {
    const info = await this.fsys.setPermissions(req.path, {
      mode: req.mode,
      owner: req.owner,
      group: req.group,
      recursive: req.recursive,
    });
    return { info: toFileInfo(info) };
  }

  async findInFiles(req: FindInFilesRequest) {
    const found = await findInFiles(this.fsys, { ...req, timeoutMs: durationMs(req.timeout) });
    return {
      matches: found.matches.map((m) => ({
        path: m.path,
        lineNumber: BigInt(m.lineNumber),
        column: BigInt(m.column),
        line: m.line,
        lineTruncated: m.truncated,
      })),
      incomplete: found.incomplete,
    };
  }

  async searchFiles(req: SearchFilesRequest) {
    return searchFiles(this.fsys, req.path, req.glob, req.maxResults);
  }

  async replaceInFiles(req: ReplaceInFilesRequest) {
    const results = await replaceInFiles(
      this.fsys,
      req.paths,
      req.pattern,
      req.replacement,
      req.regex,
      req.ignoreCase,
    );
    return {
      results: results.map((r) => ({
        path: r.path,
        replacementCount: BigInt(r.count),
        errorReason: r.errorReason,
        errorMessage: r.errorMessage,
      })),
    };
  }

  async *watchDir(
    req: WatchDirRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchDirResponseSchema>> {
    const dir = this.fsys.resolve(req.path);
    const messages = await this.watches.watch(dir, req.recursive, ctx.signal);
    type Out = MessageInitShape<typeof WatchDirResponseSchema>;
    async function* convert(): AsyncGenerator<Out> {
      for await (const m of messages) {
        if (m.kind === "start") yield { event: { case: "start", value: { path: m.path } } };
        else if (m.kind === "overflow") yield { event: { case: "overflow", value: {} } };
        else {
          yield {
            event: {
              case: "file",
              value: {
                type: eventTypes[m.type],
                path: m.path,
                entryType: m.entryType ? fileTypes[m.entryType] : FileType.UNSPECIFIED,
                eventTime: timestampFromDate(m.time),
              },
            },
          };
        }
      }
    }
    yield* withKeepalive<Out>(convert(), this.keepaliveMs, () => ({
      event: { case: "keepalive", value: {} },
    }));
  }
}

/** The path prefix of every FilesystemService call. */
const FILESYSTEM_PATH = `/${FilesystemService.typeName}/`;

/** refusingImpl answers every FilesystemService method with `error()`. */
function refusingImpl(error: () => Error): object {
  return Object.fromEntries(
    FilesystemService.methods.map((m) => [
      m.localName,
      m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming"
        ? // biome-ignore lint/correctness/useYield: it refuses before yielding anything.
          async function* () {
            throw error();
          }
        : async () => {
            throw error();
          },
    ]),
  );
}

/** FilesystemService as the app mounts it, and how other services read a file as the user. */
export interface FilesystemModule extends ServiceModule {
  /** Reads a document (LspService's DidOpen without text) with the sandbox user's identity. */
  readDocument: DocumentReader;
}

/**
 * createFilesystemModule mounts FilesystemService. A daemon that must act as another user
 * (root with a default user) relays every call to a helper process running as that user
 * (see filesystem-helper/), started now so the first call does not wait for it; when no
 * helper can run, calls fail UNAVAILABLE and nothing is done as root. Otherwise the calls are
 * served here. close() ends every open WatchDir stream, or stops the helper. readDocument
 * reads a file the way the calls do: through the user's helper, or here.
 */
export function createFilesystemModule(ctx: DaemonContext): FilesystemModule {
  // A root daemon whose default user is not root serves filesystem calls as that user.
  const user = sandboxUser(runAsRules(ctx));
  if (user) return createRelayedFilesystemModule(ctx, user);
  const fsys = new Filesystem({
    home: ctx.config.home,
    defaultUser: ctx.config.defaultUser,
    users: ctx.users,
    uploadLimitBytes: DEFAULT_UPLOAD_LIMIT_BYTES,
    clientStreamIdleMs: ctx.config.limits.clientStreamIdleMs,
  });
  const watches = new Watches();
  return {
    service: FilesystemService,
    impl: new FilesystemHandler(fsys, watches, ctx.config.limits.keepaliveMs),
    close: async () => watches.closeAll(),
    readDocument: readDocumentHere,
  };
}

function createRelayedFilesystemModule(ctx: DaemonContext, user: OsUser): FilesystemModule {
  const command = ctx.config.filesystemHelper;
  const directSocket = ctx.config.socketPath
    ? nodePath.join(nodePath.dirname(ctx.config.socketPath), FILESYSTEM_SOCKET_NAME)
    : undefined;
  const helpers = command
    ? new FilesystemHelpers({
        command,
        settings: () => ({ home: ctx.config.home, limits: ctx.config.limits }),
        // The default user's helper also serves the runner's gateway on its own socket.
        socketPath: (u) => (u.uid === user.uid ? directSocket : undefined),
        logger: ctx.logger,
      })
    : undefined;
  helpers?.warm(user);
  const refusal = () =>
    unavailable(
      "DAEMON_UNAVAILABLE",
      helpers
        ? `the filesystem helper for user ${user.name} is not running; try again`
        : `no filesystem helper is configured, and filesystem calls are never made as root`,
      { user: user.name },
    );
  return {
    service: FilesystemService,
    impl: refusingImpl(refusal),
    // Never as root: through the helper, or refused when there is none.
    readDocument: helpers
      ? createHelperDocumentReader(helpers, user)
      : async () => {
          throw refusal();
        },
    intercept: (req) => {
      if (!req.url?.startsWith(FILESYSTEM_PATH) || !("stream" in req)) return false;
      // When no helper can take the call, Connect answers it with the refusal.
      return helpers?.relay(user, req) ?? false;
    },
    close: async () => {
      await helpers?.close();
      if (directSocket) fs.rmSync(directSocket, { force: true });
    },
  };
}
