// The runner's engine client never follows redirects and never puts an unescaped or
// ungrammatical image name into an engine URL (the path that ended `npm start`'s process).
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { CoveError } from "@cove/common";
import Dockerode from "dockerode";
import { imageUrlName, refuseRedirects } from "../src/domain/docker-client.js";
import { validateSpec } from "../src/domain/hardening.js";
import type { SandboxSpec } from "../src/domain/sandbox-driver.js";

/** A fake engine that answers every request with a redirect and records what it was asked. */
async function redirectingEngine(): Promise<{
  port: number;
  paths: string[];
  close(): Promise<void>;
}> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? "");
    const port = (server.address() as AddressInfo).port;
    res.writeHead(301, { location: `http://127.0.0.1:${port}/followed${req.url}` });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test("a 301 from the engine fails the call; the redirect is never followed", async () => {
  const engine = await redirectingEngine();
  try {
    const docker = refuseRedirects(new Dockerode({ host: "127.0.0.1", port: engine.port }));
    await expect(docker.getImage("x").inspect()).rejects.toThrow();
    await expect(docker.listContainers()).rejects.toThrow();
    // Give a followed redirect time to arrive, then check none did.
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.paths).toEqual(["/images/x/json", "/containers/json"]);
    // Hardening twice is harmless.
    expect(refuseRedirects(docker)).toBe(docker);
  } finally {
    await engine.close();
  }
});

test("image names are spelled out in full and escaped into one URL path segment", () => {
  expect(imageUrlName("cove/sandbox:latest")).toBe("docker.io%2Fcove%2Fsandbox%3Alatest");
  expect(imageUrlName("python")).toBe("docker.io%2Flibrary%2Fpython%3Alatest");
  // A short hex name is a repository, never an image id prefix.
  expect(imageUrlName("4f0427a0afe1")).toBe("docker.io%2Flibrary%2F4f0427a0afe1%3Alatest");
  expect(imageUrlName(`localhost:5000/a/b@sha256:${"e".repeat(64)}`)).toBe(
    encodeURIComponent(`localhost:5000/a/b@sha256:${"e".repeat(64)}`),
  );
  // A full content id (what restores pin) names exactly that image.
  expect(imageUrlName(`sha256:${"c".repeat(64)}`)).toBe(`sha256%3A${"c".repeat(64)}`);
  expect(() => imageUrlName(`sha256:${"c".repeat(63)};x`)).toThrow(CoveError);
  for (const bad of ["img;id", "UPPER/Case", "../../etc/passwd", "a/../../b", "%2e%2e/x", ""]) {
    expect(() => imageUrlName(bad)).toThrow(CoveError);
  }
});

test("validateSpec refuses an image outside the grammar before the engine is asked", () => {
  const spec = (image: string): SandboxSpec => ({
    sandboxId: "abc",
    organizationId: "org",
    image,
    cpuMillicores: 0,
    memoryMib: 0,
    diskMib: 0,
    env: {},
    labels: {},
    osUser: "",
    network: "none",
    runtime: "",
  });
  expect(() => validateSpec(spec("python:3.12-slim"))).not.toThrow();
  for (const bad of ["img;id", "UPPER/Case", "../../etc/passwd", "a/../../b", "%2e%2e/x"]) {
    expect(() => validateSpec(spec(bad))).toThrow(/image/);
  }
});
