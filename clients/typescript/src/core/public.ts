// Everything both entry points export besides `Cove` itself.
export { errorReasonName } from "@cove/common/error-reason.js";
export type {
  Chart,
  ChartAxis,
  ChartSeries,
  CodeContext,
  CreateContextOptions,
  Execution,
  ExecutionError,
  ExecutionResult,
  RunCodeOptions,
} from "./code-interpreter.js";
export { CodeInterpreter, MAX_EXECUTION_LOG_CHARS } from "./code-interpreter.js";
export type { CodeLanguageName, SignalName } from "./convert.js";
export type {
  CoveConfig,
  CreateOptions,
  CreateSandboxParams,
  ListParams,
  Resources,
} from "./cove.js";
export { CoveClient } from "./cove.js";
export {
  CoveAlreadyExistsError,
  CoveAuthenticationError,
  CoveCancelledError,
  CoveConflictError,
  CoveError,
  CoveNotFoundError,
  CovePermissionError,
  CoveQuotaError,
  CoveRateLimitError,
  CoveTimeoutError,
  CoveUnavailableError,
  CoveValidationError,
  type FieldViolation,
  isRejectedUpFront,
  isRetryable,
  toCoveError,
} from "./errors.js";
export type {
  DownloadOptions,
  FileEvent,
  FileInfo,
  Match,
  ReplaceResult,
  TransferProgress,
  UploadOptions,
  UploadSource,
} from "./filesystem.js";
export { FileSystem } from "./filesystem.js";
export type { GitCommit, GitFileStatus, GitStatus } from "./git.js";
export { Git } from "./git.js";
export type {
  ApiKey,
  ApiKeyStateName,
  AuditEvent,
  AuditFilter,
  CreatedMember,
  Member,
  Organization,
  Quota,
  RoleName,
  Usage,
} from "./iam.js";
export { ApiKeys, Audit, Organizations } from "./iam.js";
export type {
  CompletionItem,
  CompletionList,
  Diagnostics,
  HoverInfo,
  LspDiagnostic,
  LspLanguageId,
  LspLocation,
  LspServerInfo,
  LspSymbol,
  Position,
  Range,
} from "./lsp.js";
export { Lsp, LspServer } from "./lsp.js";
export type { OutputChunk, OutputHandlers, OutputStream } from "./output.js";
export type {
  CodeRunOptions,
  ConnectOptions,
  ExecuteOptions,
  ExecuteResponse,
  ProcessDescription,
  ProcessHandle,
  ProcessResult,
  Session,
  SessionCommandInfo,
  SessionCommandLogs,
  SessionExecuteRequest,
  SessionExecuteResponse,
  StartOptions,
} from "./process.js";
export { Process } from "./process.js";
export type { PtyCreateOptions, PtyHandle, PtyResult } from "./pty.js";
export { Pty } from "./pty.js";
export { backoffMs, type CallPolicy, type UnaryOptions, unary } from "./rpc.js";
export type { PreviewLink, SandboxStateName, SshAccess, WaitOptions } from "./sandbox.js";
export { Sandbox } from "./sandbox.js";
