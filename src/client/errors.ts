/**
 * Typed API errors. The apiserver answers failures with a `Status` object whose `reason` says what happened
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind); each common reason gets
 * its own class so callers can branch with `instanceof` or the `isX(err)` helpers.
 */

import type { StatusCause } from "../types/generated/meta.v1.ts";

/** One cause of an Invalid (or other) error: `field` is the path of the offending field, e.g. `spec.replicas`. */
export type { StatusCause };

/** The apiserver's `Status` body (also returned by some deletes). */
export interface StatusBody {
  kind?: "Status";
  apiVersion?: string;
  status?: "Success" | "Failure";
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
}

/** Any non-2xx answer of the apiserver. */
export class ApiError extends Error {
  /** HTTP status code. */
  readonly code: number;
  /** The Status `reason`, e.g. `NotFound`, `Conflict`, `Invalid`, or `Unknown` when the body was not a Status. */
  readonly reason: string;
  readonly status: StatusBody | undefined;
  readonly causes: StatusCause[];
  /** `METHOD path` of the failed request. */
  readonly request: string;
  /**
   * When to try again, in seconds, for a throttled (429) or unavailable (5xx) apiserver that said so (the Status's
   * `details.retryAfterSeconds`, else the Retry-After header). The work queue waits at least this long.
   */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: number,
    status: StatusBody | undefined,
    request: string,
    fallbackMessage?: string,
    retryAfter?: number,
  ) {
    super(status?.message || fallbackMessage || `HTTP ${code}`);
    this.retryAfterSeconds =
      code === 429 || code >= 500 ? (status?.details?.retryAfterSeconds ?? retryAfter) : undefined;
    this.name = new.target.name;
    this.code = code;
    this.reason = status?.reason || "Unknown";
    this.status = status;
    this.causes = status?.details?.causes ?? [];
    this.request = request;
  }
}

export class BadRequestError extends ApiError {}
export class UnauthorizedError extends ApiError {}
export class ForbiddenError extends ApiError {}
export class NotFoundError extends ApiError {}
export class MethodNotAllowedError extends ApiError {}
/** A write lost an optimistic-concurrency race (stale resourceVersion) or conflicts with another field manager. */
export class ConflictError extends ApiError {}
export class AlreadyExistsError extends ApiError {}
/** The requested resourceVersion is too old (expired from the watch cache): list again. */
export class GoneError extends ApiError {}
export class UnsupportedMediaTypeError extends ApiError {}
/** The object failed validation; `causes` carry the field paths. */
export class InvalidError extends ApiError {
  /** `field: message` lines, e.g. `spec.size: Invalid value: -1: must be greater than or equal to 0`. */
  fieldErrors(): string[] {
    return this.causes.map((c) => (c.field ? `${c.field}: ${c.message ?? c.reason ?? ""}` : (c.message ?? "")));
  }
}
/** Throttled (API Priority and Fairness or a webhook). `retryAfterSeconds` says when to try again. */
export class TooManyRequestsError extends ApiError {
  constructor(code: number, status: StatusBody | undefined, request: string, retryAfter?: number) {
    super(code, status, request, undefined, retryAfter);
  }
}
export class InternalError extends ApiError {}
export class ServiceUnavailableError extends ApiError {}
export class TimeoutError extends ApiError {}

/**
 * A request the apiserver did not answer in time (the transport's `requestTimeoutMs`): aborted on the client's
 * side. A write that timed out may still have been applied. `code` is `ETIMEDOUT`, so isRetryable() holds.
 */
export class RequestTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  /** `METHOD path` of the request. */
  readonly request: string;
  readonly timeoutMs: number;
  constructor(request: string, timeoutMs: number) {
    super(`${request}: no answer within ${timeoutMs} ms (request timeout)`);
    this.name = "RequestTimeoutError";
    this.request = request;
    this.timeoutMs = timeoutMs;
  }
}

/** Builds the right ApiError subclass for a failed response. */
export function apiErrorFor(
  code: number,
  body: unknown,
  request: string,
  headers: { retryAfter?: string | undefined } = {},
): ApiError {
  const status = isStatus(body) ? body : undefined;
  const text = typeof body === "string" ? body.trim().slice(0, 500) : undefined;
  const reason = status?.reason;
  const parsed = headers.retryAfter !== undefined ? Number.parseInt(headers.retryAfter, 10) : undefined;
  const retryAfter = parsed !== undefined && Number.isFinite(parsed) ? parsed : undefined;
  switch (reason) {
    case "NotFound":
      return new NotFoundError(code, status, request);
    case "AlreadyExists":
      return new AlreadyExistsError(code, status, request);
    case "Conflict":
      return new ConflictError(code, status, request);
    case "Invalid":
      return new InvalidError(code, status, request);
    case "Gone":
    case "Expired":
      return new GoneError(code, status, request);
    case "TooManyRequests":
      return new TooManyRequestsError(code, status, request, retryAfter);
    case "Forbidden":
      return new ForbiddenError(code, status, request);
    case "Unauthorized":
      return new UnauthorizedError(code, status, request);
    default:
  }
  switch (code) {
    case 400:
      return new BadRequestError(code, status, request, text);
    case 401:
      return new UnauthorizedError(code, status, request, text);
    case 403:
      return new ForbiddenError(code, status, request, text);
    case 404:
      return new NotFoundError(code, status, request, text);
    case 405:
      return new MethodNotAllowedError(code, status, request, text);
    case 409:
      return new ConflictError(code, status, request, text);
    case 410:
      return new GoneError(code, status, request, text);
    case 415:
      return new UnsupportedMediaTypeError(code, status, request, text);
    case 422:
      return new InvalidError(code, status, request, text);
    case 429:
      return new TooManyRequestsError(code, status, request, retryAfter);
    case 500:
      return new InternalError(code, status, request, text, retryAfter);
    case 503:
      return new ServiceUnavailableError(code, status, request, text, retryAfter);
    case 504:
      return new TimeoutError(code, status, request, text, retryAfter);
    default:
      return new ApiError(code, status, request, text, retryAfter);
  }
}

export function isStatus(body: unknown): body is StatusBody {
  return typeof body === "object" && body !== null && (body as { kind?: unknown }).kind === "Status";
}

export const isNotFound = (err: unknown): err is NotFoundError => err instanceof NotFoundError;
export const isConflict = (err: unknown): err is ConflictError => err instanceof ConflictError;
export const isAlreadyExists = (err: unknown): err is AlreadyExistsError => err instanceof AlreadyExistsError;
export const isInvalid = (err: unknown): err is InvalidError => err instanceof InvalidError;
export const isGone = (err: unknown): err is GoneError => err instanceof GoneError;
export const isForbidden = (err: unknown): err is ForbiddenError => err instanceof ForbiddenError;
export const isTooManyRequests = (err: unknown): err is TooManyRequestsError => err instanceof TooManyRequestsError;
/** Errors worth retrying as they are: throttling, server overload, timeouts and lost connections. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ApiError) return err.code === 429 || err.code === 500 || err.code === 503 || err.code === 504;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)$/.test(code);
}
