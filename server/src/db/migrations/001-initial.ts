import type { Knex } from "knex";

/**
 * The initial schema. Ids are text ("org_…", "sbx…"); times are timestamptz; every tenant-owned
 * table carries organization_id, and every query filters on it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("organizations", (t) => {
    t.text("id").primary();
    t.text("name").notNullable();
    t.integer("max_sandboxes").notNullable().defaultTo(10);
    t.integer("max_cpu_millicores").notNullable().defaultTo(8000);
    t.integer("max_memory_mib").notNullable().defaultTo(16384);
    t.integer("max_disk_mib").notNullable().defaultTo(51200);
    t.integer("max_sandbox_cpu_millicores").notNullable().defaultTo(4000);
    t.integer("max_sandbox_memory_mib").notNullable().defaultTo(8192);
    t.integer("max_sandbox_disk_mib").notNullable().defaultTo(10240);
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("update_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("delete_time", { useTz: true });
  });

  await knex.schema.createTable("users", (t) => {
    t.text("id").primary();
    t.text("email").notNullable().unique();
    t.text("name").notNullable().defaultTo("");
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("members", (t) => {
    t.text("organization_id").notNullable().references("organizations.id").onDelete("CASCADE");
    t.text("user_id").notNullable().references("users.id").onDelete("CASCADE");
    t.text("role").notNullable();
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["organization_id", "user_id"]);
  });

  await knex.schema.createTable("api_keys", (t) => {
    t.text("id").primary();
    t.text("organization_id").notNullable().references("organizations.id").onDelete("CASCADE");
    t.text("user_id").references("users.id").onDelete("SET NULL");
    t.text("name").notNullable();
    t.text("key_prefix").notNullable();
    t.text("secret_hash").notNullable().unique();
    t.specificType("scopes", "text[]").notNullable();
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("expire_time", { useTz: true });
    t.timestamp("revoke_time", { useTz: true });
    t.timestamp("last_used_time", { useTz: true });
    t.index(["organization_id"]);
  });

  await knex.schema.createTable("runners", (t) => {
    t.text("id").primary();
    t.text("name").notNullable().defaultTo("");
    t.text("version").notNullable().defaultTo("");
    t.text("region").notNullable().defaultTo("");
    t.text("token_hash").unique();
    t.text("state").notNullable().defaultTo("PENDING");
    t.boolean("draining").notNullable().defaultTo(false);
    t.integer("cpu_millicores").notNullable().defaultTo(0);
    t.integer("memory_mib").notNullable().defaultTo(0);
    t.integer("disk_mib").notNullable().defaultTo(0);
    t.integer("max_sandboxes").notNullable().defaultTo(0);
    t.jsonb("metrics").notNullable().defaultTo("{}");
    t.specificType("runtimes", "text[]").notNullable().defaultTo("{}");
    t.text("toolbox_gateway_url").notNullable().defaultTo("");
    t.text("connected_server").notNullable().defaultTo("");
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("connect_time", { useTz: true });
    t.timestamp("last_heartbeat_time", { useTz: true });
  });

  await knex.schema.createTable("sandboxes", (t) => {
    t.text("id").primary();
    t.text("organization_id").notNullable().references("organizations.id");
    t.text("runner_id").references("runners.id");
    t.text("image").notNullable();
    t.text("snapshot_id");
    t.text("state").notNullable();
    t.text("desired_state").notNullable();
    t.text("error_reason").notNullable().defaultTo("");
    t.text("error_message").notNullable().defaultTo("");
    t.boolean("recoverable").notNullable().defaultTo(false);
    t.jsonb("labels").notNullable().defaultTo("{}");
    t.jsonb("env").notNullable().defaultTo("{}");
    t.text("os_user").notNullable().defaultTo("");
    t.boolean("public").notNullable().defaultTo(false);
    t.integer("cpu_millicores").notNullable();
    t.integer("memory_mib").notNullable();
    t.integer("disk_mib").notNullable();
    t.jsonb("network_policy").notNullable().defaultTo("{}");
    t.integer("auto_stop_seconds").notNullable().defaultTo(900);
    t.integer("auto_archive_seconds").notNullable().defaultTo(604800);
    t.integer("auto_delete_seconds").notNullable().defaultTo(0);
    t.jsonb("volumes").notNullable().defaultTo("[]");
    t.text("region").notNullable().defaultTo("");
    t.text("runtime_class").notNullable().defaultTo("");
    t.text("idempotency_key");
    t.text("daemon_socket_path").notNullable().defaultTo("");
    t.integer("version").notNullable().defaultTo(0);
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("update_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("state_change_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("last_activity_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("destroy_time", { useTz: true });
    t.index(["organization_id", "create_time"]);
    t.index(["runner_id"]);
    t.index(["state"]);
  });
  await knex.raw(
    "CREATE UNIQUE INDEX sandboxes_idempotency ON sandboxes (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
  );

  // The outbox: commands for runners, written in the same transaction as the state change
  // they serve, delivered at least once, finished by the runner's result.
  await knex.schema.createTable("runner_commands", (t) => {
    t.text("id").primary();
    t.text("runner_id").notNullable().references("runners.id");
    t.text("sandbox_id");
    t.text("kind").notNullable();
    t.binary("payload").notNullable();
    t.text("state").notNullable().defaultTo("PENDING");
    t.integer("attempt").notNullable().defaultTo(0);
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("deadline_time", { useTz: true }).notNullable();
    t.timestamp("send_time", { useTz: true });
    t.timestamp("ack_time", { useTz: true });
    t.timestamp("finish_time", { useTz: true });
    t.text("error_reason").notNullable().defaultTo("");
    t.text("error_message").notNullable().defaultTo("");
    t.index(["runner_id", "state"]);
    t.index(["sandbox_id"]);
  });

  await knex.schema.createTable("access_tokens", (t) => {
    t.text("id").primary();
    t.text("kind").notNullable();
    t.text("organization_id").notNullable().references("organizations.id").onDelete("CASCADE");
    t.text("sandbox_id").notNullable();
    t.text("token_hash").notNullable().unique();
    t.integer("port").notNullable().defaultTo(0);
    t.timestamp("create_time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("expire_time", { useTz: true }).notNullable();
    t.timestamp("revoke_time", { useTz: true });
    t.index(["sandbox_id"]);
  });

  await knex.schema.createTable("audit_events", (t) => {
    t.bigIncrements("id").primary();
    t.text("organization_id").notNullable();
    t.text("actor").notNullable();
    t.text("method").notNullable();
    t.text("resource_type").notNullable().defaultTo("");
    t.text("resource_id").notNullable().defaultTo("");
    t.text("outcome").notNullable();
    t.text("request_id").notNullable().defaultTo("");
    t.jsonb("metadata").notNullable().defaultTo("{}");
    t.timestamp("time", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["organization_id", "time"]);
  });
}

/** down drops everything up created. */
export async function down(knex: Knex): Promise<void> {
  for (const table of [
    "audit_events",
    "access_tokens",
    "runner_commands",
    "sandboxes",
    "runners",
    "api_keys",
    "members",
    "users",
    "organizations",
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
