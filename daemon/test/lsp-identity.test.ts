// LspService reads documents as the sandbox user, in a real sandbox: the daemon kit in the Cove
// base image, started as the runner starts it (root, default user `cove`, the runner's
// capability set, no new privileges). The probe: sandbox code runs `ln -s /etc/shadow ~/x.py`
// and opens ~/x.py without text; the daemon (root) must not read /etc/shadow for the language
// server (which runs as the user and would hand it back through symbols and diagnostics).
// Needs the Docker engine and the base image (`npm test` builds it).
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { LspService } from "@cove/gen-ts/cove/toolbox/v1/lsp_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { SANDBOX_CAPABILITIES } from "../../runner/src/domain/hardening.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { buildKit } from "../scripts/build-kit.mjs";
import { dockerUnreachableReason } from "./docker-images.js";
import { type KitContainer, removeStartedContainers, startKitContainer } from "./kit-container.js";

const unreachable = dockerUnreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required) {
  console.warn(
    `Skipping the LSP identity tests: the Docker engine is not reachable (${unreachable})`,
  );
}
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;

/** A Python identity that only root's copy of the files holds (appended to /etc/shadow). */
const MARKER = "cove_root_only_marker_7f3a";

describeWithDocker("LspService reads documents as the sandbox user", () => {
  let container: KitContainer;
  let serverId = "";

  const exec = async (command: string, user = "") => {
    const res = await createClient(ProcessService, container.transport).exec({
      program: { case: "command", value: command },
      user,
    });
    const out = Buffer.from(res.stdout).toString().trim();
    if (res.exitCode !== 0) {
      throw new Error(`\`${command}\` exited ${res.exitCode}: ${Buffer.from(res.stderr)}${out}`);
    }
    return out;
  };
  const lsp = () => createClient(LspService, container.transport);
  const failure = async (call: Promise<unknown>): Promise<ConnectError> => {
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  };
  const reason = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0]?.reason;

  /** Everything the server says about the project, as text. */
  const everything = async (file: string) => {
    const said: unknown[] = [];
    const settle = (call: Promise<unknown>) =>
      call.then(
        (res) => said.push(res),
        (err: unknown) => said.push(String(err)),
      );
    await settle(lsp().workspaceSymbols({ serverId, query: MARKER }));
    await settle(lsp().documentSymbols({ serverId, path: file }));
    await settle(lsp().diagnostics({ serverId, path: file, wait: { seconds: 3n } }));
    await settle(lsp().hover({ serverId, path: file, position: { line: 0, character: 1 } }));
    return JSON.stringify(said, (_k, v) => (typeof v === "bigint" ? String(v) : v));
  };

  beforeAll(async () => {
    if (unreachable !== undefined) {
      throw new Error(`COVE_REQUIRE_DOCKER=1 but Docker is not reachable: ${unreachable}`);
    }
    const kit = await buildKit({ log: () => {} });
    const { image } = await ensureBaseImage({ log: () => {} });
    container = await startKitContainer({
      kitDir: kit.dir,
      entrypoint: kit.manifest.entrypoint,
      image,
      env: {
        COVE_DAEMON_USER: "cove",
        COVE_DAEMON_HOME: "/home/cove",
        COVE_DAEMON_SANDBOX_ENV: "parent",
      },
      dockerArgs: [
        "--cap-drop",
        "ALL",
        ...SANDBOX_CAPABILITIES.flatMap((cap) => ["--cap-add", cap]),
        "--security-opt",
        "no-new-privileges:true",
      ],
      command: ["sleep", "infinity"],
    });
    // Root-only content the user must never see: a line in /etc/shadow, and a file of root's
    // (mode 0600) inside the user's own project.
    await exec(`echo '${MARKER} = 1' >> /etc/shadow`, "root");
    await exec("mkdir -p /home/cove/proj && chown cove:cove /home/cove/proj", "root");
    await exec(
      `printf '${MARKER}_file = 2\\n' > /home/cove/proj/rootonly.py && chmod 600 /home/cove/proj/rootonly.py`,
      "root",
    );
    // As the sandbox user: the symlink of the probe, and an ordinary file of the user's.
    await exec(
      "ln -s /etc/shadow ~/proj/x.py && printf 'def hello():\\n    return 1\\n' > ~/proj/ok.py",
    );
    expect(await exec("id -un")).toBe("cove");
    const res = await lsp().startLspServer({ languageId: "python", rootPath: "proj" });
    serverId = res.server?.serverId ?? "";
    expect(serverId).not.toBe("");
  }, 300_000);

  afterAll(async () => {
    if (serverId)
      await lsp()
        .stopLspServer({ serverId })
        .catch(() => undefined);
    container?.remove();
    removeStartedContainers();
  });

  test("DidOpen of a symlink to /etc/shadow is PERMISSION_DENIED; nothing of it reaches an answer", async () => {
    const err = await failure(lsp().didOpen({ serverId, path: "x.py", text: "" }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(reason(err)).toBe("FILE_ACCESS_DENIED");
    expect(err.rawMessage).toContain("/home/cove/proj/x.py");
    expect(err.rawMessage).not.toContain(MARKER);
    expect(await everything("x.py")).not.toContain(MARKER);
    // The file is still there and still root's.
    expect(await exec(`grep -c ${MARKER} /etc/shadow`, "root")).toBe("1");
  }, 60_000);

  test("DidOpen of root's 0600 file in the user's project is PERMISSION_DENIED", async () => {
    const err = await failure(lsp().didOpen({ serverId, path: "rootonly.py" }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(reason(err)).toBe("FILE_ACCESS_DENIED");
    expect(await everything("rootonly.py")).not.toContain(MARKER);
  }, 60_000);

  test("the user's own file opens from disk and is served", async () => {
    await lsp().didOpen({ serverId, path: "ok.py" });
    const { symbols } = await lsp().documentSymbols({ serverId, path: "ok.py" });
    expect(symbols.map((s) => s.name)).toContain("hello");
  }, 60_000);

  test("missing files, directories and FIFOs keep their answers", async () => {
    await exec("mkfifo ~/proj/pipe.py && mkdir -p ~/proj/dir.py");
    const missing = await failure(lsp().didOpen({ serverId, path: "nope.py" }));
    expect(missing.code).toBe(Code.NotFound);
    expect(reason(missing)).toBe("FILE_NOT_FOUND");
    for (const file of ["pipe.py", "dir.py"]) {
      const err = await failure(lsp().didOpen({ serverId, path: file }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(reason(err)).toBe("NOT_A_REGULAR_FILE");
    }
  }, 60_000);

  test("a document over 8 MiB is INVALID_ARGUMENT; one of exactly 8 MiB opens", async () => {
    await exec("head -c 8388609 /dev/zero | tr '\\0' '#' > ~/proj/big.py");
    const big = await failure(lsp().didOpen({ serverId, path: "big.py" }));
    expect(big.code).toBe(Code.InvalidArgument);
    expect(big.rawMessage).toContain("larger than 8 MiB");
    await exec("truncate -s 8388608 ~/proj/big.py");
    await lsp().didOpen({ serverId, path: "big.py" });
    await lsp().didClose({ serverId, path: "big.py" });
  }, 120_000);
});
