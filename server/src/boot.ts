import * as fs from "node:fs";
import * as path from "node:path";
import { type GrpcServer, type Logger, startGrpcServer } from "@cove/common";
import type { Knex } from "knex";
import { createServerApp, type ServerApp, type ServerTuning } from "./app.js";
import type { ServerConfig } from "./config.js";
import { migrate, openDatabase } from "./db/database.js";
import type { EmbeddedDatabase } from "./db/embedded-postgres.js";
import { ensureAdmin } from "./domain/iam/admin-bootstrap.js";
import { createSharedState } from "./shared/create-shared-state.js";

/** A running API server and what it started. */
export interface BootedServer {
  /** The API's base URL. */
  url: string;
  /** The admin API key (from the data folder). */
  adminApiKey: string;
  /** Whether the admin key was created by this start (print it once, then never again). */
  adminCreated: boolean;
  /** The wired app (tests reach its parts). */
  app: ServerApp;
  /** The database pool. */
  db: Knex;
  /** stop shuts everything down in order. */
  stop(): Promise<void>;
}

/**
 * bootServer starts the API server: the embedded Postgres unless DATABASE_URL is set, the
 * migrations, shared state (Redis or in-process), the admin key on first start, the services,
 * and the listener.
 */
export async function bootServer(
  config: ServerConfig,
  logger: Logger,
  tuning?: ServerTuning,
): Promise<BootedServer> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    logger.info("starting the embedded Postgres", {
      dataDir: path.join(config.dataDir, "postgres"),
    });
    // Loaded only when needed: the package is ESM-only and deployments with DATABASE_URL never use it.
    const { startEmbeddedPostgres } = await import("./db/embedded-postgres.js");
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(config.dataDir, "postgres"),
      port: config.embeddedPostgresPort,
    });
    databaseUrl = embedded.url();
  }
  const db = openDatabase(databaseUrl);
  let grpc: GrpcServer | undefined;
  let app: ServerApp | undefined;
  const shared = await createSharedState({ redisUrl: config.redisUrl, logger });
  try {
    await migrate(db);
    const admin = await ensureAdmin(db, { dataDir: config.dataDir });
    app = createServerApp({ db, shared, logger, config, tuning });
    await app.start();
    grpc = await startGrpcServer(app.server, config.listen, config.listenTimeouts);
    const started = app;
    const listener = grpc;
    return {
      url: grpc.url,
      adminApiKey: admin.apiKey,
      adminCreated: admin.created,
      app: started,
      db,
      async stop() {
        await listener.close(1_000);
        await started.close();
        await shared.close();
        await db.destroy();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await grpc?.close(0);
    await app?.close();
    await shared.close();
    await db.destroy();
    await embedded?.stop();
    throw err;
  }
}
