import * as fs from "node:fs";
import { invalidArgument } from "@cove/common";

/** An OS account inside the sandbox. */
export interface OsUser {
  /** Login name. */
  name: string;
  /** Numeric user id. */
  uid: number;
  /** Primary group id. */
  gid: number;
  /** Home directory. */
  home: string;
  /** Login shell. */
  shell: string;
}

/** Reads accounts from /etc/passwd (or another file, for tests). */
export class UserDirectory {
  constructor(private readonly passwdPath = "/etc/passwd") {}

  /** lookup returns the account for a name or numeric id, or throws INVALID_ARGUMENT naming `field`. */
  lookup(nameOrId: string, field = "user"): OsUser {
    const wantId = /^\d+$/.test(nameOrId) ? Number(nameOrId) : undefined;
    let text = "";
    try {
      text = fs.readFileSync(this.passwdPath, "utf8");
    } catch {
      // No passwd file: only numeric ids can be used.
    }
    for (const line of text.split("\n")) {
      const [name, , uid, gid, , home, shell] = line.split(":");
      if (name === undefined || uid === undefined || gid === undefined) continue;
      if (name === nameOrId || Number(uid) === wantId) {
        return {
          name,
          uid: Number(uid),
          gid: Number(gid),
          home: home || "/",
          shell: shell || "/bin/sh",
        };
      }
    }
    if (wantId !== undefined)
      return { name: String(wantId), uid: wantId, gid: wantId, home: "/", shell: "/bin/sh" };
    throw invalidArgument(field, `no such user "${nameOrId}" in the sandbox`);
  }
}
