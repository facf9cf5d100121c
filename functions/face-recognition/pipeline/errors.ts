// Errors the function distinguishes. A VideoError is the upload's fault: it is reported as the
// result (and in <stem>.error.json) and retrying cannot help. Anything else is treated as transient.

export class VideoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VideoError";
  }
}

/** The request itself is wrong (bad JSON, wrong bucket...): HTTP 400. */
export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestError";
  }
}

/** The object named by the request does not exist: HTTP 404, not retryable. */
export class VideoNotFoundError extends Error {
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`no object "${key}" in bucket "${bucket}"`);
    this.name = "VideoNotFoundError";
  }
}
