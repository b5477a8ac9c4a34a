/**
 * The few typed errors the project throws. The API maps them to HTTP in one place
 * (src/api/errors.ts): InvalidArgument → 400, NotFound → 404, Conflict → 409, NotSupported → 501,
 * Unavailable → 503, ModelFit → 500 (training only, never on a request path).
 */
export class AppError extends Error {
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input from a caller: a field, a flag, a file row. */
export class InvalidArgumentError extends AppError {}
/** A thing named by the caller does not exist. */
export class NotFoundError extends AppError {}
/** The request contradicts what is recorded (an order id posted again with other content); context.conflict names what differs. */
export class ConflictError extends AppError {}
/** The model or backend cannot do this operation. */
export class NotSupportedError extends AppError {}
/** A dependency (database, cache) cannot answer now. */
export class UnavailableError extends AppError {}
/** Training produced an unusable model (NaN, divergence, empty data). */
export class ModelFitError extends AppError {}
