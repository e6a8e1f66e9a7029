// A real S3-API server for tests: s3rver (from npm) on 127.0.0.1 and a free port, data in a
// temporary directory, one bucket. It handles multipart uploads, so large archives stream.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import S3rver from "s3rver";
import type { S3Settings } from "../src/archive/s3-object-store.js";

/** A running S3 server. */
export interface TestS3 {
  /** Settings a runner uses to reach it. */
  settings: S3Settings;
  /** The bucket created at start. */
  bucket: string;
  /** stop ends the server and deletes its data. */
  stop(): Promise<void>;
}

/** startS3 starts s3rver with one bucket. */
export async function startS3(bucket = "cove-archives"): Promise<TestS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-s3-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const address = (await server.run()) as unknown as { port: number };
  return {
    bucket,
    settings: {
      endpoint: `http://127.0.0.1:${address.port}`,
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
    },
    async stop() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
