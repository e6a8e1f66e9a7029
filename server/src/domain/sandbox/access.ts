import {
  mintAccessToken,
  previewUrl,
  revokeSshTokens,
  signedPreviewUrl,
  tokenExpiryMs,
} from "./access-tokens.js";
import {
  type PreviewUrlResult,
  rowState,
  SandboxCore,
  type SandboxTokenResult,
  type SshAccessResult,
  stateConflict,
} from "./core.js";
import { publishAccessRevoked } from "./events.js";
import type { SandboxStateName } from "./ports.js";
import type { SandboxRow } from "./rows.js";
import { STATE_TABLE } from "./states.js";
import { Violations } from "./validation.js";

/** SandboxAccess: see the file comment. */
export class SandboxAccess extends SandboxCore {
  // ---------------------------------------------------------------- access

  /** createPreviewUrl mints a preview token for one port (1-65535) and builds the URLs. */
  async createPreviewUrl(
    organizationId: string,
    sandboxId: string,
    port: number,
    expiryMs?: number,
  ): Promise<PreviewUrlResult> {
    const v = new Violations();
    if (!Number.isInteger(port) || port < 1 || port > 65535) v.add("port", "must be 1-65535");
    const ms = tokenExpiryMs("preview", expiryMs, v);
    v.throwIfAny();
    const row = await this.tokenTarget(organizationId, sandboxId);
    const minted = await mintAccessToken(this.db, {
      kind: "preview",
      organizationId,
      sandboxId: row.id,
      port,
      expiryMs: ms,
    });
    const url = previewUrl(this.options.urls.previewUrlTemplate, port, row.id);
    return {
      url,
      token: minted.token,
      signedUrl: signedPreviewUrl(url, this.options.urls.signedUrlParam, minted.token),
      expireTime: minted.expireTime,
    };
  }

  /** createSshAccess mints an SSH token (the SSH user name). */
  async createSshAccess(
    organizationId: string,
    sandboxId: string,
    expiryMs?: number,
  ): Promise<SshAccessResult> {
    const v = new Violations();
    const ms = tokenExpiryMs("ssh", expiryMs, v);
    v.throwIfAny();
    const row = await this.tokenTarget(organizationId, sandboxId);
    const minted = await mintAccessToken(this.db, {
      kind: "ssh",
      organizationId,
      sandboxId: row.id,
      expiryMs: ms,
    });
    const { sshHost: host, sshPort: port } = this.options.urls;
    return {
      token: minted.token,
      sshCommand: `ssh ${minted.token}@${host} -p ${port}`,
      host,
      port,
      expireTime: minted.expireTime,
    };
  }

  /** revokeSshAccess revokes one SSH token (or all of the sandbox's when `token` is empty). */
  async revokeSshAccess(organizationId: string, sandboxId: string, token: string): Promise<void> {
    await this.loadRow(organizationId, sandboxId);
    const ids = await revokeSshTokens(this.db, organizationId, sandboxId, token);
    if (ids.length > 0) {
      await publishAccessRevoked(this.events, { organizationId, sandboxId, tokenIds: ids }).catch(
        (err) => this.logger.warn("could not publish revoked tokens", { err, sandboxId }),
      );
    }
  }

  /** createSandboxToken mints a bearer token for the sandbox's toolbox and previews. */
  async createSandboxToken(
    organizationId: string,
    sandboxId: string,
    expiryMs?: number,
  ): Promise<SandboxTokenResult> {
    const v = new Violations();
    const ms = tokenExpiryMs("sandbox", expiryMs, v);
    v.throwIfAny();
    const row = await this.tokenTarget(organizationId, sandboxId);
    const minted = await mintAccessToken(this.db, {
      kind: "sandbox",
      organizationId,
      sandboxId: row.id,
      expiryMs: ms,
    });
    return {
      token: minted.token,
      toolboxUrl: this.options.urls.toolboxUrl,
      expireTime: minted.expireTime,
    };
  }

  protected async tokenTarget(organizationId: string, sandboxId: string): Promise<SandboxRow> {
    const row = await this.loadRow(organizationId, sandboxId);
    if (!STATE_TABLE[row.state as SandboxStateName].tokens)
      throw stateConflict(rowState(row), "grant access to", (r) => r.tokens);
    return row;
  }
}
