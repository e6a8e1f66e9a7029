import type { Interceptor } from "@connectrpc/connect";
import { kPrincipal, type Principal } from "../src/principal.js";

/** asPrincipal is a test interceptor that makes every call come from `principal` (skipping API keys). */
export function asPrincipal(principal: Principal): Interceptor {
  return (next) => (req) => {
    req.contextValues.set(kPrincipal, principal);
    return next(req);
  };
}
