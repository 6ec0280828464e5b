import assert from "node:assert/strict";
import { test } from "node:test";
import {
  apiErrorFor,
  ConflictError,
  GoneError,
  InvalidError,
  isNotFound,
  isRetryable,
  NotFoundError,
  TooManyRequestsError,
} from "./errors.ts";

const status = (code: number, reason: string, extra: object = {}) => ({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  message: `${reason} happened`,
  reason,
  code,
  ...extra,
});

test("each Status reason maps to its error class with message, causes and request", () => {
  const nf = apiErrorFor(404, status(404, "NotFound"), "GET /api/v1/namespaces/x/configmaps/y");
  assert.ok(nf instanceof NotFoundError && isNotFound(nf));
  assert.equal(nf.message, "NotFound happened");
  assert.equal(nf.request, "GET /api/v1/namespaces/x/configmaps/y");
  assert.ok(apiErrorFor(409, status(409, "Conflict"), "PUT /x") instanceof ConflictError);
  assert.ok(apiErrorFor(410, status(410, "Expired"), "GET /x") instanceof GoneError);
  const invalid = apiErrorFor(
    422,
    status(422, "Invalid", {
      details: { causes: [{ field: "spec.size", reason: "FieldValueInvalid", message: "too big" }] },
    }),
    "POST /x",
  );
  assert.ok(invalid instanceof InvalidError);
  assert.deepEqual((invalid as InvalidError).fieldErrors(), ["spec.size: too big"]);
  const throttled = apiErrorFor(429, status(429, "TooManyRequests", { details: { retryAfterSeconds: 3 } }), "GET /x");
  assert.ok(throttled instanceof TooManyRequestsError);
  assert.equal((throttled as TooManyRequestsError).retryAfterSeconds, 3);
  assert.equal(
    (apiErrorFor(429, "slow down", "GET /x", { retryAfter: "7" }) as TooManyRequestsError).retryAfterSeconds,
    7,
  );
});

test("a non-Status body still gives a typed error by HTTP code", () => {
  const e = apiErrorFor(404, "404 page not found", "GET /nope");
  assert.ok(e instanceof NotFoundError);
  assert.equal(e.reason, "Unknown");
  assert.equal(e.message, "404 page not found");
  assert.equal(isRetryable(apiErrorFor(503, "", "GET /x")), true);
  assert.equal(isRetryable(e), false);
  assert.equal(isRetryable(Object.assign(new Error("reset"), { code: "ECONNRESET" })), true);
});

test("a 5xx with Retry-After carries it too; other codes do not", () => {
  assert.equal(apiErrorFor(503, "busy", "GET /x", { retryAfter: "2" }).retryAfterSeconds, 2);
  assert.equal(apiErrorFor(500, "", "GET /x", { retryAfter: "soon" }).retryAfterSeconds, undefined);
  assert.equal(apiErrorFor(409, "", "PUT /x", { retryAfter: "2" }).retryAfterSeconds, undefined);
});
