/**
 * Private scratch directories for the daemon's own files (code to run, session state, kernels,
 * git askpass) under the sandbox's temporary directory. User code may empty or remove /tmp at
 * any time (a cleanup script, `rm -rf /tmp/*`): the directories are recreated when missing, so
 * that costs nothing but the files of calls already running, instead of failing every later
 * call with INTERNAL.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** ensureTmp recreates the temporary directory (mode 1777, as images ship it) if it is gone. */
export function ensureTmp(): string {
  const tmp = os.tmpdir();
  if (!fs.existsSync(tmp)) {
    fs.mkdirSync(tmp, { recursive: true });
    fs.chmodSync(tmp, 0o1777);
  }
  return tmp;
}

/** makeScratchDir creates a fresh private directory `<parent>/<prefix>XXXXXX` (parent: the temp dir). */
export function makeScratchDir(prefix: string, parent?: string): string {
  const base = parent ?? ensureTmp();
  if (parent !== undefined && !fs.existsSync(parent)) {
    ensureTmp();
    fs.mkdirSync(parent, { recursive: true, mode: 0o711 });
    fs.chmodSync(parent, 0o711);
  }
  return fs.mkdtempSync(path.join(base, prefix));
}
