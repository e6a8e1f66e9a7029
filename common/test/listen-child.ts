// A bare listenDualProtocol server in a process of its own (for listen.test.ts): prints its
// port, answers "ok", and ends only when killed — or when something it did not handle ends it.
import { listenDualProtocol } from "../src/listen.js";

const server = await listenDualProtocol((_req, res) => res.end("ok"), { port: 0 });
process.stdout.write(`${(server.address as { port: number }).port}\n`);
