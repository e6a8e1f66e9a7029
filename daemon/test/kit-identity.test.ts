// The filesystem identity in a real sandbox: the daemon kit in the Cove base image, started as
// the runner starts it (root, default user `cove`, the runner's capability set, no new
// privileges). The probe of the security review: sandbox code runs `ln -sf /etc/shadow ~/x`,
// then SetPermissions ~/x mode 0666 must not make /etc/shadow world-writable. Files the API
// creates belong to `cove`. Needs the Docker engine and the base image (`npm test` builds it).
import * as fs from "node:fs";
import * as path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { SANDBOX_CAPABILITIES } from "../../runner/src/domain/hardening.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { buildKit } from "../scripts/build-kit.mjs";
import { dockerUnreachableReason } from "./docker-images.js";
import { createUnixTransport } from "./harness.js";
import { type KitContainer, removeStartedContainers, startKitContainer } from "./kit-container.js";

const unreachable = dockerUnreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required) {
  console.warn(
    `Skipping the kit identity tests: the Docker engine is not reachable (${unreachable})`,
  );
}
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;

describeWithDocker("filesystem calls in a sandbox act as its user", () => {
  let container: KitContainer;

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
      env: { COVE_DAEMON_USER: "cove", COVE_DAEMON_HOME: "/home/cove" },
      dockerArgs: [
        "--cap-drop",
        "ALL",
        ...SANDBOX_CAPABILITIES.flatMap((cap) => ["--cap-add", cap]),
        "--security-opt",
        "no-new-privileges:true",
      ],
      command: ["sleep", "infinity"],
    });
  }, 300_000);
  afterAll(() => {
    container?.remove();
    removeStartedContainers();
  });

  const exec = async (command: string, user = "") => {
    const res = await createClient(ProcessService, container.transport).exec({
      program: { case: "command", value: command },
      user,
    });
    return Buffer.from(res.stdout).toString().trim();
  };
  const code = async (call: Promise<unknown>) =>
    call.then(
      () => "succeeded",
      (err: unknown) => (err instanceof ConnectError ? Code[err.code] : String(err)),
    );

  test("SetPermissions on ~/x -> /etc/shadow is PERMISSION_DENIED and /etc/shadow keeps its mode", async () => {
    const before = await exec("stat -c %a /etc/shadow", "root");
    await exec("ln -sf /etc/shadow ~/x", "cove");
    const files = createClient(FilesystemService, container.transport);
    expect(await code(files.setPermissions({ path: "x", mode: 0o666 }))).toBe("PermissionDenied");
    expect(await code(files.setPermissions({ path: "/etc/shadow", mode: 0o666 }))).toBe(
      "PermissionDenied",
    );
    expect(
      await code(files.writeFile({ path: "x", data: Buffer.from("root::0:0::/:/bin/sh\n") })),
    ).toBe("PermissionDenied");
    // The same through the helper's own socket, which the runner's gateway uses.
    const socket = path.join(path.dirname(container.socketPath), "filesystem.sock");
    expect(fs.lstatSync(socket).isSocket()).toBe(true);
    const direct = createClient(FilesystemService, createUnixTransport(socket));
    expect(await code(direct.setPermissions({ path: "x", mode: 0o666 }))).toBe("PermissionDenied");
    expect(await exec("stat -c %a /etc/shadow", "root")).toBe(before);
  });

  test("files the API writes belong to cove with normal permissions, and read back", async () => {
    const files = createClient(FilesystemService, container.transport);
    const data = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    await files.writeFile({ path: "api/made.bin", data });
    expect(await exec("stat -c '%U:%G %a' /home/cove/api /home/cove/api/made.bin", "root")).toBe(
      "cove:cove 755\ncove:cove 644",
    );
    const parts: Uint8Array[] = [];
    for await (const m of files.readFile({ path: "api/made.bin" })) parts.push(m.data);
    expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
    // The helper that did it runs as cove (its executable is the kit's loader).
    expect(await exec("ps -eo user=,args= | grep '[f]ilesystem-helper.mjs'", "root")).toMatch(
      /^cove\s/,
    );
  });
});
