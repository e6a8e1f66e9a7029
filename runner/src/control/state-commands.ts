// The runner commands about images, archives and volumes, from protocol messages to the domain
// managers and back: build, pull, remove and commit snapshot images, archive and restore
// sandboxes, remove volumes. A runner started without a manager answers its commands
// UNIMPLEMENTED, as before.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { CoveError } from "@cove/common";
import type {
  CommandSuccessSchema,
  RegistryCredentials,
  RunnerCommand,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import type { ArchiveManager } from "../archive/archive-manager.js";
import type { Progress } from "../domain/progress.js";
import type { SandboxObservation, SandboxSpec } from "../domain/sandbox-driver.js";
import type { ImageInfo, ImageManager } from "../images/image-manager.js";
import type { RegistryAuth } from "../images/registry-auth.js";
import type { SandboxNetwork } from "../network/sandbox-network.js";
import type { VolumeManager } from "../volumes/volume-manager.js";

/** The managers behind the image, archive and volume commands; a missing one means unimplemented. */
export interface StateServices {
  /** Snapshot images (build, pull, commit, push, remove). */
  images?: ImageManager;
  /** Sandbox archives in object stores. */
  archives?: ArchiveManager;
  /** Local volumes. */
  volumes?: VolumeManager;
  /** The sandbox network (egress policies); without it only BLOCK_ALL and ALLOW_ALL work. */
  network?: SandboxNetwork;
}

/** What a state command needs from the executor around it. */
export interface StateCommandContext {
  /** Where the command's progress goes. */
  progress: Progress;
  /** The executor's spec conversion (with validation). */
  toSpec: (command: RunnerCommand) => SandboxSpec;
  /** Starts a sandbox the executor's way (volume staging, error reports) once restored. */
  start: (sandboxId: string) => Promise<SandboxObservation>;
  /** Builds the sandbox payload of a success. */
  sandboxResult: (obs: SandboxObservation) => MessageInitShape<typeof CommandSuccessSchema>;
  /** Sends a state report of the sandbox. */
  reportState: (sandboxId: string, state: "RESTORING" | "ARCHIVING") => void;
}

type Success = MessageInitShape<typeof CommandSuccessSchema>;

/** toAuth turns protocol credentials into the domain's; unset or empty → undefined. */
export function toAuth(creds: RegistryCredentials | undefined): RegistryAuth | undefined {
  if (!creds || (creds.username === "" && creds.password === "")) return undefined;
  return { server: creds.server, username: creds.username, password: creds.password };
}

function unimplemented(what: string): CoveError {
  return new CoveError(
    "unimplemented",
    "RUNTIME_UNAVAILABLE",
    `this runner does not implement ${what}`,
  );
}

function imagePayload(info: ImageInfo): Success {
  return {
    payload: {
      case: "image",
      value: { image: info.image, digest: info.digest, sizeMib: info.sizeMib },
    },
  };
}

/**
 * applyStateCommand runs one image, archive or volume command; undefined when the command is
 * none of those.
 */
export async function applyStateCommand(
  command: RunnerCommand,
  services: StateServices,
  ctx: StateCommandContext,
): Promise<Success | undefined> {
  const c = command.command;
  const { images, archives, volumes } = services;
  switch (c.case) {
    case "pullSnapshotImage": {
      if (!images) throw unimplemented("image pulls");
      return imagePayload(
        await images.pull(c.value.image, toAuth(c.value.registryCredentials), ctx.progress),
      );
    }
    case "buildSnapshotImage": {
      if (!images) throw unimplemented("image builds");
      const d = c.value.dockerfile;
      const build = {
        content: d?.content ?? "",
        files: (d?.contextFiles ?? []).map((f) => ({
          path: f.path,
          content: f.content,
          mode: f.mode,
        })),
        buildArgs: d?.buildArgs ?? {},
        target: d?.target ?? "",
      };
      const options = {
        snapshotId: c.value.snapshotId,
        push: c.value.push,
        auth: toAuth(c.value.registryCredentials),
      };
      return imagePayload(await images.build(c.value.image, build, options, ctx.progress));
    }
    case "removeSnapshotImage": {
      if (!images) throw unimplemented("image removal");
      await images.remove(c.value.image, c.value.snapshotId);
      return {};
    }
    case "commitSandbox": {
      if (!images) throw unimplemented("sandbox commits");
      const options = {
        snapshotId: c.value.snapshotId,
        push: c.value.push,
        auth: toAuth(c.value.registryCredentials),
      };
      return imagePayload(
        await images.commit(c.value.sandboxId, c.value.image, options, ctx.progress),
      );
    }
    case "archiveSandbox": {
      if (!archives) throw unimplemented("archives");
      const result = await archives.archive(
        c.value.sandboxId,
        c.value.archiveUri,
        ctx.progress,
        () => ctx.reportState(c.value.sandboxId, "ARCHIVING"),
      );
      return {
        payload: {
          case: "archive",
          value: { archiveUri: result.archiveUri, sizeMib: result.sizeMib },
        },
      };
    }
    case "restoreSandbox": {
      if (!archives) throw unimplemented("restores");
      const spec = ctx.toSpec(command);
      ctx.reportState(spec.sandboxId, "RESTORING");
      await archives.restore(
        spec,
        c.value.archiveUri,
        toAuth(c.value.spec?.registryCredentials),
        ctx.progress,
      );
      return ctx.sandboxResult(await ctx.start(spec.sandboxId));
    }
    case "removeVolume": {
      if (!volumes) throw unimplemented("volumes");
      await volumes.remove(c.value.volumeId);
      return {};
    }
    default:
      return undefined;
  }
}
