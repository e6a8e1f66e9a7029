// Runs nft scripts on the host: each script is one atomic transaction (`nft -f -`), so a
// policy is replaced in full or not at all.
import { spawn } from "node:child_process";
import { CoveError } from "@cove/common";

/** Something that applies nft scripts (a fake in unit tests). */
export interface Nft {
  /** apply runs one script as one transaction; throws with nft's message when it fails. */
  apply(script: string): Promise<void>;
  /** list prints a table, for diagnostics and tests. */
  list(table: string): Promise<string>;
}

/** createNft runs the `nft` binary (Debian package nftables). */
export function createNft(binary = "nft"): Nft {
  const run = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stderr.on("data", (c: Buffer) => err.push(c));
      child.on("error", (e) =>
        reject(
          new CoveError(
            "failedPrecondition",
            "RUNTIME_UNAVAILABLE",
            `nft could not run (${e.message}): install nftables on the runner host`,
          ),
        ),
      );
      child.on("close", (code) => {
        if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
        else
          reject(
            new Error(
              `nft ${args.join(" ")} failed: ${Buffer.concat(err).toString("utf8").trim()}`,
            ),
          );
      });
      child.stdin.end(input ?? "");
    });
  return {
    async apply(script) {
      await run(["-f", "-"], script);
    },
    list(table) {
      return run(["list", "table", "inet", table]);
    },
  };
}
