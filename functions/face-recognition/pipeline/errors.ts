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

/** The request's caller gave up, or its deadline passed: its video is abandoned (HTTP 503, retryable). */
export class AbandonedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AbandonedError";
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

/** The object changed since the request named it (another upload under the same key): not a failure. */
export class VideoSupersededError extends Error {
  constructor(
    readonly key: string,
    readonly etag: string,
  ) {
    super(`"${key}" is no longer the content with ETag ${etag}: a newer upload replaced it`);
    this.name = "VideoSupersededError";
  }
}
