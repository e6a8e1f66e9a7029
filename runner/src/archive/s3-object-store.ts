// The S3-API object store: objects go up as streamed multipart uploads (16 MiB parts, two in
// flight, so memory stays flat whatever the size); an object appears only when its upload
// completes. Unfinished uploads of a key that a crashed runner left behind are aborted before
// the key is written again.
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { ObjectStore, StoredObject } from "./object-store.js";

/** How the runner reaches its S3-API store (from COVE_RUNNER_S3_*). */
export interface S3Settings {
  /** The endpoint URL, e.g. http://127.0.0.1:9000; "" for AWS itself. */
  endpoint: string;
  /** The region (default "us-east-1"). */
  region: string;
  /** Access key id; "" to use the SDK's default credential chain. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Path-style addressing (most self-hosted stores need it). */
  forcePathStyle: boolean;
}

/** Bytes per multipart part. */
const partSize = 16 * 1024 * 1024;

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

/** createS3Client builds the SDK client for the settings. */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.region || "us-east-1",
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    ...(settings.accessKeyId
      ? {
          credentials: {
            accessKeyId: settings.accessKeyId,
            secretAccessKey: settings.secretAccessKey,
          },
        }
      : {}),
  });
}

/** S3ObjectStore keeps objects in one bucket of an S3-API store. */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Readable, onBytes?: (bytes: number) => void): Promise<StoredObject> {
    await this.abortUnfinished(key);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: "application/x-tar" },
      partSize,
      queueSize: 2,
      leavePartsOnError: false,
    });
    let bytes = 0;
    upload.on("httpUploadProgress", (p) => {
      if (typeof p.loaded === "number") {
        bytes = p.loaded;
        onBytes?.(bytes);
      }
    });
    await upload.done();
    const stored = await this.head(key);
    if (!stored) throw new Error(`the upload of ${key} completed but the object is missing`);
    return stored;
  }

  async get(key: string): Promise<Readable | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: Number(res.ContentLength ?? 0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.abortUnfinished(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** abortUnfinished aborts multipart uploads of exactly this key (stores that cannot list them are skipped). */
  private async abortUnfinished(key: string): Promise<void> {
    let uploads: Array<{ Key?: string; UploadId?: string }>;
    try {
      const res = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }),
      );
      uploads = res.Uploads ?? [];
    } catch {
      return;
    }
    for (const u of uploads) {
      if (u.Key !== key || !u.UploadId) continue;
      await this.client
        .send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: u.UploadId }),
        )
        .catch(() => {});
    }
  }
}
