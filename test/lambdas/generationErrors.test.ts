import { mapGenerationError } from "../../lambdas/stream-worker/generationErrors";
import { namedError } from "./support/workerFixtures";

describe("mapGenerationError", () => {
  it.each([
    ["ThrottlingException", "THROTTLED", true],
    ["ServiceQuotaExceededException", "THROTTLED", true],
    ["ValidationException", "INVALID_REQUEST", false],
    ["AccessDeniedException", "ACCESS_DENIED", false],
    ["ResourceNotFoundException", "MODEL_NOT_FOUND", false],
    ["ModelTimeoutException", "MODEL_TIMEOUT", true],
    ["TimeoutError", "MODEL_TIMEOUT", true],
    ["ServiceUnavailableException", "SERVICE_UNAVAILABLE", true],
    ["InternalServerException", "SERVICE_UNAVAILABLE", true],
    ["ModelNotReadyException", "SERVICE_UNAVAILABLE", true],
    ["ModelStreamErrorException", "MODEL_STREAM_ERROR", true],
    ["TypeError", "INTERNAL_ERROR", true],
  ])("%s -> %s (retryable %s) with a message that hides the internal error", (name, code, retryable) => {
    const secret = "arn:aws:bedrock:us-east-1:123456789012:foundation-model/x is not authorized for role secret-role";
    const mapped = mapGenerationError(namedError(name, secret));
    expect(mapped).toMatchObject({ code, retryable });
    expect(mapped.message).not.toContain("arn:");
    expect(mapped.message).not.toContain(name);
    expect(mapped.message.length).toBeGreaterThan(10);
  });

  it("maps socket codes and bare HTTP statuses, and anything unknown (even non-errors) to INTERNAL_ERROR", () => {
    expect(mapGenerationError(Object.assign(new Error("x"), { code: "ETIMEDOUT" })).code).toBe("MODEL_TIMEOUT");
    expect(mapGenerationError(Object.assign(new Error("x"), { code: "ECONNRESET" })).code).toBe("SERVICE_UNAVAILABLE");
    expect(mapGenerationError(Object.assign(new Error("x"), { name: "Unknown", $metadata: { httpStatusCode: 429 } })).code).toBe("THROTTLED");
    expect(mapGenerationError(Object.assign(new Error("x"), { name: "Unknown", $metadata: { httpStatusCode: 503 } })).code).toBe("SERVICE_UNAVAILABLE");
    expect(mapGenerationError("a string").code).toBe("INTERNAL_ERROR");
    expect(mapGenerationError(undefined).code).toBe("INTERNAL_ERROR");
  });
});
