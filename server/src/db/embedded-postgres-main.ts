// The embedded Postgres as a process of its own, for `npm start`'s supervisor: starts it (data
// in COVE_POSTGRES_DATA_DIR, port COVE_EMBEDDED_POSTGRES_PORT), tells the supervisor its URL,
// and stops it on SIGTERM/SIGINT or when the supervisor goes away.
import { createLogger, installLastResort } from "@cove/common";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./embedded-postgres.js";

const logger = createLogger({ fields: { component: "postgres" } });
let database: EmbeddedDatabase | undefined;
let stopping = false;
async function stop(reason: string) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping the embedded Postgres", { reason });
  await database?.stop().catch((err: unknown) => logger.warn("Postgres did not stop", { err }));
  process.exit(0);
}
installLastResort(logger, () => database?.stop());
const dataDir = process.env.COVE_POSTGRES_DATA_DIR;
if (!dataDir) throw new Error("COVE_POSTGRES_DATA_DIR must be set");
database = await startEmbeddedPostgres({
  dataDir,
  port: Number(process.env.COVE_EMBEDDED_POSTGRES_PORT ?? 54329),
});
process.send?.({ cove: "ready", url: database.url() });
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
process.on("disconnect", () => void stop("the supervisor went away"));
