// The default sandbox image `cove/sandbox:<version>`: built (or reused) by
// scripts/build-base-image.mjs with no registry, then checked by running it with no network.
// Needs the Docker engine (`npm test` starts it and builds the image first) and, to build, root.
import { spawnSync } from "node:child_process";
import {
  BASE_IMAGE,
  BASE_IMAGE_LATEST,
  BASE_IMAGE_VERSION,
  ensureBaseImage,
} from "../../scripts/build-base-image.mjs";

function dockerUnreachableReason(): string | undefined {
  const result = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    encoding: "utf8",
    timeout: 15_000,
  });
  if (result.error) return `docker CLI: ${result.error.message}`;
  if (result.status !== 0) return result.stderr.trim() || `docker info exited ${result.status}`;
  return undefined;
}

const unreachable = dockerUnreachableReason();
// CI sets COVE_REQUIRE_DOCKER=1: there a missing engine is a failure, not a skip.
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required) {
  console.warn(
    `Skipping the base image tests: the Docker engine is not reachable (${unreachable})`,
  );
}
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;

/** run executes a shell script in a fresh container of the image, with no network. */
function run(script: string, user?: string): { code: number | null; out: string; err: string } {
  const args = ["run", "--rm", "--network", "none"];
  if (user !== undefined) args.push("--user", user);
  args.push(BASE_IMAGE, "bash", "-c", script);
  const result = spawnSync("docker", args, { encoding: "utf8", timeout: 25_000 });
  if (result.error) throw new Error(`docker run: ${result.error.message}`);
  return { code: result.status, out: result.stdout.trim(), err: result.stderr.trim() };
}

/** ok runs a script that must succeed and returns its stdout. */
function ok(script: string, user?: string): string {
  const result = run(script, user);
  if (result.code !== 0) {
    throw new Error(`\`${script}\` exited ${result.code}: ${result.err || result.out}`);
  }
  return result.out;
}

describeWithDocker(`sandbox base image ${BASE_IMAGE}`, () => {
  beforeAll(async () => {
    if (unreachable !== undefined) {
      throw new Error(`COVE_REQUIRE_DOCKER=1 but Docker is not reachable: ${unreachable}`);
    }
    const result = await ensureBaseImage({ log: (line) => process.stderr.write(`${line}\n`) });
    if (result.built) {
      console.info(`built ${result.image} in ${result.seconds} s (${result.sizeBytes} bytes)`);
    }
  }, 15 * 60_000);

  test("is tagged with its version and latest, and carries its metadata", () => {
    expect(BASE_IMAGE).toBe(`cove/sandbox:${BASE_IMAGE_VERSION}`);
    expect(BASE_IMAGE_VERSION).toMatch(/^0\.1\.0-[0-9a-f]{12}$/);
    const inspect = (ref: string) =>
      JSON.parse(
        spawnSync("docker", ["image", "inspect", ref], { encoding: "utf8" }).stdout,
      )[0] as { Id: string; Config: Record<string, unknown> };
    const image = inspect(BASE_IMAGE);
    expect(inspect(BASE_IMAGE_LATEST).Id).toBe(image.Id);
    expect(image.Config.Labels).toEqual({
      "dev.cove.image": "sandbox",
      "dev.cove.version": BASE_IMAGE_VERSION,
    });
    expect(image.Config.Env).toEqual([
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8",
      "PIP_BREAK_SYSTEM_PACKAGES=1",
    ]);
    expect(image.Config.WorkingDir).toBe("/home/cove");
    expect(image.Config.Cmd).toEqual(["sleep", "infinity"]);
  });

  test("python3 runs code, pip and venv work offline", () => {
    expect(ok(`python3 -c 'print("Sum:", 3+4)'`)).toBe("Sum: 7");
    expect(ok("pip3 --version")).toMatch(/^pip \d+/);
    expect(ok("python3 -m pip --version")).toMatch(/^pip \d+/);
    const venv = ok(
      "python3 -m venv /tmp/v && /tmp/v/bin/python -c 'import sys; print(sys.prefix)'",
    );
    expect(venv).toBe("/tmp/v");
  }, 90_000); // creating a venv installs pip into it: several seconds

  test("node, npm and tsx are on PATH; tsx runs TypeScript as the cove user", () => {
    expect(ok("node -e 'console.log(6 * 7)'")).toBe("42");
    expect(ok("node --version")).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(ok("npm --version")).toMatch(/^\d+\.\d+\.\d+$/);
    expect(ok("tsx --version")).toMatch(/^tsx v\d+\.\d+\.\d+/m);
    const ts = `printf 'const n: number = 3 + 4;\\nconsole.log("Sum:", n);\\n' > /tmp/a.ts && tsx /tmp/a.ts`;
    expect(ok(ts, "cove")).toBe("Sum: 7");
  });

  test("numpy, pandas and matplotlib are installed; matplotlib draws a PNG as the cove user", () => {
    const versions = ok(
      `python3 -c 'import numpy, pandas, matplotlib; print(numpy.__version__, pandas.__version__, matplotlib.__version__)'`,
    );
    expect(versions).toBe("2.3.5 2.3.3 3.10.8");
    const draw = [
      "import matplotlib.pyplot as plt, pandas as pd",
      "pd.Series([1, 3, 2]).plot(title='t')",
      "plt.savefig('/tmp/c.png')",
      "print(open('/tmp/c.png', 'rb').read(4))",
    ].join("\n");
    expect(ok(`printf '%s' "${draw}" | python3 -`, "cove")).toBe("b'\\x89PNG'");
  });

  test("pip install by the cove user is not refused as an externally managed environment", () => {
    const result = run("pip install --no-index --no-deps /nonexistent.whl", "cove");
    expect(result.err).not.toContain("externally-managed-environment");
  });

  test("the language servers and typescript are on PATH", () => {
    expect(ok("pyright --version")).toMatch(/^pyright 1\.1\.414/);
    expect(ok("typescript-language-server --version")).toBe("4.4.1");
    expect(ok("tsc --version")).toBe("Version 5.9.3");
    expect(ok("command -v pyright-langserver")).toBe("/usr/local/bin/pyright-langserver");
  });

  test("gcc and make build and run a C program", () => {
    expect(ok("gcc --version")).toMatch(/^gcc /);
    expect(ok("make --version")).toMatch(/^GNU Make/);
    const c = `printf '#include <stdio.h>\\nint main(void) { printf("%%d\\\\n", 3 + 4); return 0; }\\n' > /tmp/a.c && gcc -O2 -o /tmp/a /tmp/a.c && /tmp/a`;
    expect(ok(c, "cove")).toBe("7");
  });

  test("git, curl and the common command-line tools are installed", () => {
    expect(ok("git --version")).toMatch(/^git version /);
    expect(ok("curl --version")).toMatch(/^curl /);
    const tools = ["jq", "unzip", "xz", "gzip", "tar", "less", "nano", "ssh", "ip", "ps", "find"];
    expect(
      ok(`for t in ${tools.join(" ")}; do command -v "$t" >/dev/null || echo "$t"; done`),
    ).toBe("");
    expect(ok(`echo '{"a":[1,2]}' | jq -c '.a'`)).toBe("[1,2]");
  });

  test("user cove is uid/gid 1000 with /home/cove and bash", () => {
    expect(ok("id cove")).toBe("uid=1000(cove) gid=1000(cove) groups=1000(cove)");
    expect(ok("getent passwd cove")).toMatch(/^cove:x:1000:1000:[^:]*:\/home\/cove:\/bin\/bash$/);
    const asCove = ok('echo "$HOME"; pwd; id -u; touch "$HOME/x" && echo writable', "cove");
    expect(asCove.split("\n")).toEqual(["/home/cove", "/home/cove", "1000", "writable"]);
  });

  test("/run/cove exists, the locale is C.UTF-8, and no file is setuid or setgid", () => {
    expect(ok("stat -c '%U %a' /run/cove")).toBe("root 755");
    expect(ok(`echo "$LANG"; printf 'h\\u00e9' | wc -m`)).toBe("C.UTF-8\n2");
    expect(ok("find / -xdev -type f -perm /6000")).toBe("");
  });

  test("apt lists and caches are not in the image", () => {
    expect(
      ok("ls -A /var/lib/apt/lists /var/cache/apt | grep -v ':$' | grep -v '^$' || true"),
    ).toBe("");
  });
});
