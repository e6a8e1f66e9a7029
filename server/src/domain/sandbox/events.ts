/**
 * Sandbox events on the shared EventBus, so that waits and WatchSandbox on any API replica see
 * changes made on any other. Every change is published after its transaction commits, on the
 * sandbox's own channel and on one channel for all sandboxes (for EdgeService.WatchRoutes).
 * Events carry the sandbox without environment values, and its version: receivers drop events
 * not newer than what they already have, since pub/sub may reorder or repeat them.
 */
import type { EventBus } from "../../shared/shared-state.js";
import type { SandboxStateName } from "./ports.js";
import { type Sandbox, type SandboxJson, sandboxFromJson, sandboxToJson } from "./rows.js";

/** The channel of one sandbox's events. */
export function sandboxChannel(sandboxId: string): string {
  return `cove.sandbox.${sandboxId}`;
}

/** The channel every sandbox event is also published on. */
export const ALL_SANDBOXES_CHANNEL = "cove.sandboxes";

/** The channel on which revoked access tokens are announced (the proxy closes their sessions). */
export const ACCESS_REVOKED_CHANNEL = "cove.access-tokens.revoked";

/** A change of one sandbox, as published. */
export interface SandboxEvent {
  /** Always "sandbox". */
  type: "sandbox";
  /** The sandbox after the change. */
  sandbox: Sandbox;
  /** The state before the change. */
  previousState: SandboxStateName;
}

/** Revoked access tokens of one sandbox, as published. */
export interface AccessRevokedEvent {
  /** Always "accessRevoked". */
  type: "accessRevoked";
  /** Owner of the sandbox. */
  organizationId: string;
  /** The sandbox. */
  sandboxId: string;
  /** Ids of the revoked tokens (the proxy's credential_id). */
  tokenIds: string[];
}

interface SandboxEventJson {
  type: "sandbox";
  sandbox: SandboxJson;
  previousState: SandboxStateName;
}

/** publishSandboxEvent announces a committed change; failures are logged by the caller, never fatal. */
export async function publishSandboxEvent(bus: EventBus, event: SandboxEvent): Promise<void> {
  const json: SandboxEventJson = {
    type: "sandbox",
    sandbox: sandboxToJson(event.sandbox),
    previousState: event.previousState,
  };
  await Promise.all([
    bus.publish(sandboxChannel(event.sandbox.id), json),
    bus.publish(ALL_SANDBOXES_CHANNEL, json),
  ]);
}

/** parseSandboxEvent reads a bus message; undefined when it is not a sandbox event. */
export function parseSandboxEvent(message: unknown): SandboxEvent | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const json = message as Partial<SandboxEventJson>;
  if (json.type !== "sandbox" || !json.sandbox || typeof json.sandbox.id !== "string")
    return undefined;
  return {
    type: "sandbox",
    sandbox: sandboxFromJson(json.sandbox),
    previousState: json.previousState ?? json.sandbox.state,
  };
}

/** publishAccessRevoked announces revoked tokens. */
export async function publishAccessRevoked(
  bus: EventBus,
  event: Omit<AccessRevokedEvent, "type">,
): Promise<void> {
  await bus.publish(ACCESS_REVOKED_CHANNEL, { type: "accessRevoked", ...event });
}

/**
 * subscribeSandbox calls `onEvent` for each event of one sandbox until the returned function
 * is called.
 */
export function subscribeSandbox(
  bus: EventBus,
  sandboxId: string,
  onEvent: (event: SandboxEvent) => void,
): Promise<() => Promise<void>> {
  return bus.subscribe(sandboxChannel(sandboxId), (message) => {
    const event = parseSandboxEvent(message);
    if (event && event.sandbox.id === sandboxId) onEvent(event);
  });
}
