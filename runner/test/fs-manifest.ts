// fsManifest describes a tree inside a sandbox — every entry's type, mode, owner, and its
// sha256 (files) or link target (symlinks), plus how much disk each file really uses — as
// computed by the sandbox's own python3, so archive round trips compare what the sandbox sees.

/** The python3 program that prints the manifest of the paths given as arguments. */
export const MANIFEST_SCRIPT = `
import hashlib, os, stat, sys, json
out = []
for root in sys.argv[1:]:
    if not os.path.lexists(root):
        out.append([root, "absent"]); continue
    todo = [root]
    while todo:
        p = todo.pop()
        st = os.lstat(p)
        m = st.st_mode
        entry = [p, oct(stat.S_IMODE(m)), st.st_uid, st.st_gid]
        if stat.S_ISLNK(m):
            entry += ["link", os.readlink(p)]
        elif stat.S_ISDIR(m):
            entry += ["dir"]
            todo += [os.path.join(p, n) for n in os.listdir(p)]
        elif stat.S_ISREG(m):
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            entry += ["file", st.st_size, h.hexdigest()]
        elif stat.S_ISFIFO(m):
            entry += ["fifo"]
        else:
            entry += ["other", m]
        out.append(entry)
out.sort()
print(json.dumps(out))
`;

/** The shell command that writes the standard test tree (run as root in the sandbox). */
export function populateCommand(bigMib: number): string {
  return [
    "set -e",
    "mkdir -p /home/cove/tree/sub /home/cove/tree/private",
    "cd /home/cove/tree",
    `head -c ${bigMib}M /dev/urandom > big.bin`,
    // 256 MiB with 6 bytes of data in the middle.
    "truncate -s 256M sparse.bin",
    "printf middle | dd of=sparse.bin bs=1 seek=100000000 conv=notrunc status=none",
    "ln -s /etc/shadow shadow-link",
    "ln -s ../tree/sub rel-link",
    "ln -s /nonexistent/target dangling",
    "echo owned > sub/owned && chown 4242:4343 sub/owned && chmod 0640 sub/owned",
    "chmod 1777 sub && chmod 0700 private && echo secret > private/s && chown -R 1000:1000 private",
    "mkfifo sub/fifo",
    "printf 'no newline' > sub/plain && chmod 0755 sub/plain",
    "touch 'sub/name with spaces and ünïcode'",
    // A file of the image deleted (an overlay whiteout) and a directory of the image replaced
    // by a new one (an opaque directory).
    "rm /etc/issue.net",
    "rm -rf /etc/apt && mkdir /etc/apt && echo only-this > /etc/apt/new-file",
  ].join("\n");
}

/** The paths the manifest covers. */
export const MANIFEST_PATHS = ["/home/cove/tree", "/etc/apt", "/etc/issue.net", "/etc/shadow"];
