// What a request asks for: `{"bucket","key"}` (the trigger, faas-cli invoke), or an S3/Ceph event
// `{"Records":[…]}` (the original trigger, bucket notifications): every record is a video.
import { RequestError } from "./pipeline/errors.js";

export interface VideoRef {
  bucket: string;
  key: string;
  /** Event records from AWS carry URL-encoded keys; Ceph's do not. */
  maybeEncoded: boolean;
  /** The content the caller means (the upload's ETag): a replaced object is then not analysed. */
  etag?: string;
}

const MAX_RECORDS = 100;

export function parseInvocation(body: unknown, inputBucket: string): VideoRef[] {
  const data = typeof body === "string" || Buffer.isBuffer(body) ? parseJson(body.toString()) : body;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new RequestError('expected a JSON object: {"bucket": "...", "key": "..."} or {"Records": [...]}');
  }
  const refs = "Records" in data ? fromRecords((data as { Records: unknown }).Records) : [fromPlain(data)];
  for (const ref of refs) {
    if (ref.bucket !== inputBucket) {
      throw new RequestError(`bucket "${ref.bucket}" is not the input bucket ("${inputBucket}")`);
    }
  }
  return refs;

  function fromPlain(obj: object): VideoRef {
    const { bucket = inputBucket, key, etag } = obj as { bucket?: unknown; key?: unknown; etag?: unknown };
    if (typeof bucket !== "string" || bucket === "") throw new RequestError('"bucket" must be a non-empty string');
    return { bucket, key: checkKey(key, '"key"'), maybeEncoded: false, ...checkEtag(etag, '"etag"') };
  }
}

function fromRecords(records: unknown): VideoRef[] {
  if (!Array.isArray(records) || records.length === 0) throw new RequestError('"Records" must be a non-empty array');
  if (records.length > MAX_RECORDS) throw new RequestError(`at most ${MAX_RECORDS} records per request`);
  return records.map((record, i) => {
    const s3 = (record as { s3?: { bucket?: { name?: unknown }; object?: { key?: unknown; eTag?: unknown } } } | null)
      ?.s3;
    const bucket = s3?.bucket?.name;
    if (typeof bucket !== "string" || bucket === "") throw new RequestError(`Records[${i}].s3.bucket.name is missing`);
    return {
      bucket,
      key: checkKey(s3?.object?.key, `Records[${i}].s3.object.key`),
      maybeEncoded: true,
      ...checkEtag(s3?.object?.eTag, `Records[${i}].s3.object.eTag`),
    };
  });
}

function checkKey(key: unknown, where: string): string {
  if (typeof key !== "string" || key === "") throw new RequestError(`${where} must be a non-empty string`);
  if (Buffer.byteLength(key) > 1024) throw new RequestError(`${where} is longer than S3's 1024 bytes`);
  return key;
}

/** An optional ETag, quotes removed (listings and events differ in quoting). */
function checkEtag(etag: unknown, where: string): { etag?: string } {
  if (etag === undefined || etag === null || etag === "") return {};
  if (typeof etag !== "string" || !/^"?[\w-]{1,128}"?$/.test(etag))
    throw new RequestError(`${where} must be an object ETag (a short string of letters, digits and -)`);
  return { etag: etag.replace(/^"|"$/g, "") };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(`the body is not valid JSON (${(err as Error).message})`);
  }
}
