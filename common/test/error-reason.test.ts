import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import { errorReasonName, errorReasonValue, parseErrorReasonName } from "../src/error-reason.js";

test("a value's name is the proto name without its prefix, and back", () => {
  expect(errorReasonName(ErrorReason.SANDBOX_NOT_FOUND)).toBe("SANDBOX_NOT_FOUND");
  expect(errorReasonValue("SANDBOX_NOT_FOUND")).toBe(ErrorReason.SANDBOX_NOT_FOUND);
  expect(parseErrorReasonName("DAEMON_UNAVAILABLE")).toBe("DAEMON_UNAVAILABLE");
});

test("UNSPECIFIED, unknown values and names that are not reasons have no name", () => {
  expect(errorReasonName(ErrorReason.UNSPECIFIED)).toBeUndefined();
  expect(errorReasonName(987654)).toBeUndefined();
  for (const name of ["", "UNSPECIFIED", "ERROR_REASON_SANDBOX_NOT_FOUND", "toString", "1"]) {
    expect(parseErrorReasonName(name)).toBeUndefined();
    expect(errorReasonValue(name)).toBe(ErrorReason.UNSPECIFIED);
  }
  expect(parseErrorReasonName(undefined)).toBeUndefined();
});
