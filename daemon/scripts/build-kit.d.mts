// Types for build-kit.mjs, so TypeScript tests and benchmarks can build the kit in-process.

/** One file of the kit as listed in kit.json. */
export interface KitFile {
  /** Path relative to the kit's root. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Permission bits. */
  mode: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
}

/** kit.json: what the runner reads to start a sandbox with the kit. */
export interface KitManifest {
  /** Always "cove-daemon-kit". */
  name: string;
  /** Fingerprint of the build inputs; the build is skipped when it is unchanged. */
  inputHash: string;
  /** CPU architecture the kit runs on ("x86_64"). */
  arch: string;
  /** The bundled Node's version, e.g. "v20.20.2". */
  node: string;
  /** Where the kit must be mounted in the container ("/cove"). */
  mount: string;
  /** The container argv that starts cove-init and the daemon; the image's command follows. */
  entrypoint: string[];
  /** Operational notes for the runner. */
  notes: string[];
  /** Total size of the files in bytes. */
  sizeBytes: number;
  /** Every file of the kit. */
  files: KitFile[];
}

/** Where the kit is mounted inside a sandbox container. */
export const kitMount: string;
/** The container argv that starts the daemon from a kit mounted at kitMount. */
export const kitEntrypoint: string[];
/** The default output directory, daemon/dist/kit. */
export const defaultKitDir: string;

/** buildKit builds the kit unless it is up to date; see build-kit.mjs. */
export function buildKit(options?: {
  dir?: string;
  log?: (line: string) => void;
}): Promise<{ dir: string; manifest: KitManifest; built: boolean }>;
