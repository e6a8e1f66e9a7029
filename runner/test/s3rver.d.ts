// s3rver ships no type declarations: the part of its API the tests use.
declare module "s3rver" {
  /** s3rver's options (the subset the tests pass). */
  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    directory?: string;
    configureBuckets?: Array<{ name: string; configs: Array<string | Buffer> }>;
  }
  /** A fake S3 server. */
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<unknown>;
    close(): Promise<void>;
  }
}
