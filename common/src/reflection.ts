import {
  createRegistry,
  type DescFile,
  type DescService,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "@cove/gen-ts/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "@cove/gen-ts/grpc/reflection/v1alpha/reflection_pb.js";

/** The reflection services themselves, so a server can list them next to its own. */
export const reflectionServices = [ServerReflectionV1, ServerReflectionV1alpha] as const;

/** gRPC status NOT_FOUND, as the reflection protocol's ErrorResponse carries it. */
const NOT_FOUND = 5;
/** gRPC status UNIMPLEMENTED, for reflection requests this server does not support. */
const UNIMPLEMENTED = 12;

/** The request shape shared by reflection v1 and v1alpha. */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | { case: "fileByFilename"; value: string }
    | { case: "fileContainingSymbol"; value: string }
    | {
        case: "fileContainingExtension";
        value: { containingType: string; extensionNumber: number };
      }
    | { case: "allExtensionNumbersOfType"; value: string }
    | { case: "listServices"; value: string }
    | { case: undefined; value?: undefined };
}

/** Answers reflection requests from the descriptors a server was built with. */
export class ReflectionIndex {
  private readonly registry: Registry;
  private readonly files = new Map<string, DescFile>();
  private readonly serviceNames: string[];

  /** Builds the index from the services a server exposes (and, transitively, their files). */
  constructor(services: readonly DescService[]) {
    const files = this.files;
    const visit = (file: DescFile) => {
      // DescFile.name drops ".proto"; reflection speaks in full file names.
      const name = file.proto.name;
      if (files.has(name)) return;
      files.set(name, file);
      for (const dep of file.dependencies) visit(dep);
    };
    for (const service of services) visit(service.file);
    this.registry = createRegistry(...files.values());
    this.serviceNames = [...new Set(services.map((s) => s.typeName))].sort();
  }

  /** Answers one request; `sent` tracks files already sent on this stream, as gRPC servers do. */
  answer(req: ReflectionRequest, sent: Set<string>) {
    const base = { validHost: req.host, originalRequest: req };
    const files = (file: DescFile | undefined, what: string) => {
      if (!file) return this.error(base, NOT_FOUND, `${what} not found`);
      return {
        ...base,
        messageResponse: {
          case: "fileDescriptorResponse" as const,
          value: { fileDescriptorProto: this.withDependencies(file, sent) },
        },
      };
    };
    const request = req.messageRequest;
    switch (request.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: {
            case: "listServicesResponse" as const,
            value: { service: this.serviceNames.map((name) => ({ name })) },
          },
        };
      case "fileByFilename":
        return files(this.files.get(request.value), `file "${request.value}"`);
      case "fileContainingSymbol":
        return files(this.fileOfSymbol(request.value), `symbol "${request.value}"`);
      case "fileContainingExtension":
        return this.error(base, NOT_FOUND, `extension ${request.value.extensionNumber} not found`);
      case "allExtensionNumbersOfType":
        return this.error(base, NOT_FOUND, `type "${request.value}" has no extensions`);
      default:
        return this.error(base, UNIMPLEMENTED, "unsupported reflection request");
    }
  }

  private error(base: object, errorCode: number, errorMessage: string) {
    return {
      ...base,
      messageResponse: { case: "errorResponse" as const, value: { errorCode, errorMessage } },
    };
  }

  private fileOfSymbol(symbol: string): DescFile | undefined {
    const name = symbol.startsWith(".") ? symbol.slice(1) : symbol;
    const direct = this.registry.get(name);
    if (direct) return direct.file;
    // A method (pkg.Service.Method) or a field (pkg.Message.field) names its parent first.
    const parentName = name.slice(0, name.lastIndexOf("."));
    const member = name.slice(name.lastIndexOf(".") + 1);
    const parent = this.registry.get(parentName);
    if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) {
      return parent.file;
    }
    if (parent?.kind === "message" && parent.fields.some((f) => f.name === member)) {
      return parent.file;
    }
    return undefined;
  }

  private withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const visit = (f: DescFile, force: boolean) => {
      if (!force && sent.has(f.proto.name)) return;
      sent.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) visit(dep, false);
    };
    visit(file, true);
    return out;
  }
}

/** createReflectionServiceV1 implements grpc.reflection.v1.ServerReflection. */
export function createReflectionServiceV1(
  index: ReflectionIndex,
): ServiceImpl<typeof ServerReflectionV1> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const req of requests) yield index.answer(req, sent);
    },
  };
}

/** createReflectionServiceV1alpha implements grpc.reflection.v1alpha.ServerReflection for older tools. */
export function createReflectionServiceV1alpha(
  index: ReflectionIndex,
): ServiceImpl<typeof ServerReflectionV1alpha> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const req of requests) yield index.answer(req, sent);
    },
  };
}
