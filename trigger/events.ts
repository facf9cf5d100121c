// Bucket notifications ({"Records":[…]}) from Ceph RGW, or AWS S3, to the objects they announce.
// Pure logic.
//
// Ceph sends `eventName` without the `s3:` prefix ("ObjectCreated:Put"); other senders and the
// configuration's own names carry it ("s3:ObjectCreated:Put"): both are accepted. Ceph sends the
// key as stored, AWS URL-encodes it (spaces as "+"): only an `aws:s3` record is decoded, since
// decoding a Ceph key would corrupt names that contain "%" or "+".

export interface ObjectEvent {
  bucket: string;
  key: string;
  /** Without quotes; absent when the sender gave none. */
  etag?: string;
  size?: number;
  eventName: string;
  eventTime?: string;
}

export interface ParsedNotification {
  created: ObjectEvent[];
  /** Records that announce nothing to process, with the reason (for a debug log). */
  skipped: { eventName?: string; reason: string }[];
}

export class NotificationFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotificationFormatError";
  }
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** "s3:ObjectCreated:Put" and "ObjectCreated:Put" alike → "ObjectCreated:Put". */
export function normalizeEventName(name: string): string {
  return name.startsWith("s3:") ? name.slice(3) : name;
}

export function isObjectCreated(name: string): boolean {
  return normalizeEventName(name).startsWith("ObjectCreated:");
}

/** AWS's form encoding of keys: "+" is a space, the rest percent-encoded. */
export function decodeAwsKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return key; // not valid percent-encoding: it was never encoded
  }
}

/** Throws NotificationFormatError when the body is not a notification at all. */
export function parseNotification(body: unknown): ParsedNotification {
  if (!isObject(body) || !Array.isArray(body.Records)) {
    throw new NotificationFormatError('expected a JSON object with a "Records" array');
  }
  const created: ObjectEvent[] = [];
  const skipped: ParsedNotification["skipped"] = [];
  for (const record of body.Records) {
    if (!isObject(record)) {
      skipped.push({ reason: "record is not an object" });
      continue;
    }
    const eventName = text(record.eventName);
    if (eventName === undefined || !isObjectCreated(eventName)) {
      skipped.push({ eventName, reason: "not an ObjectCreated event" });
      continue;
    }
    const s3 = isObject(record.s3) ? record.s3 : {};
    const bucket = isObject(s3.bucket) ? text(s3.bucket.name) : undefined;
    const object = isObject(s3.object) ? s3.object : {};
    const rawKey = text(object.key);
    if (!bucket || !rawKey) {
      skipped.push({ eventName, reason: "no bucket name or object key" });
      continue;
    }
    const key = text(record.eventSource) === "aws:s3" ? decodeAwsKey(rawKey) : rawKey;
    const etag = text(object.eTag) ?? text(object.etag);
    const size = typeof object.size === "number" ? object.size : undefined;
    created.push({
      bucket,
      key,
      ...(etag ? { etag: etag.replace(/^"|"$/g, "") } : {}),
      ...(size !== undefined ? { size } : {}),
      eventName: normalizeEventName(eventName),
      ...(text(record.eventTime) ? { eventTime: text(record.eventTime) } : {}),
    });
  }
  return { created, skipped };
}
