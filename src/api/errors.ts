// One catalogue of error codes. Every error response has the OData shape
// {"error": {"code", "message", "target", "details"}} and a status that follows from its code.
export const ERRORS = {
  BadRequest: 400,
  InvalidParameter: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  PayloadTooLarge: 413,
  UriTooLong: 414,
  UnsupportedMediaType: 415,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

/** A failed commit is usually a lock held for seconds by a large refresh, or a disk hiccup. */
const STORE_RETRY_AFTER_S = 1;

export class ApiError extends Error {
  readonly status: number;
  /** For 405: the methods the resource allows (sent as the Allow header). */
  allow?: string;
  /** For 503: seconds after which a retry may succeed (sent as the Retry-After header). */
  retryAfter?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly target?: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.status = ERRORS[code];
  }

  static methodNotAllowed(allow: string, message: string): ApiError {
    const e = new ApiError('MethodNotAllowed', message);
    e.allow = allow;
    return e;
  }

  /**
   * The store could not take a write now: nothing was stored, and the same request may be sent
   * again (a client library retries 503 after Retry-After).
   */
  static storeUnavailable(message: string, cause?: unknown): ApiError {
    const e = new ApiError('ServiceUnavailable', message);
    e.retryAfter = STORE_RETRY_AFTER_S;
    if (cause !== undefined) (e as ApiError & { cause?: unknown }).cause = cause;
    return e;
  }

  toBody(): { error: { code: string; errorCode: string; message: string; target?: string; details?: ErrorDetail[] } } {
    return { error: { code: this.code, errorCode: this.code, message: this.message, target: this.target, details: this.details } };
  }
}
