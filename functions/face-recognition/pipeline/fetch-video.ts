// Stage 1: fetch the video into a private temporary folder, and check from its first bytes that
// it is an MP4/MOV container before ffmpeg sees it (the name proves nothing: a playlist named
// .mp4 would otherwise make ffmpeg open the files or URLs listed inside it).
import { mkdtemp, open, rm } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  currentEtag,
  downloadObject,
  httpStatusOf,
  isNotFound,
  isPreconditionFailed,
  ObjectTooLargeError,
} from "../../../lib/s3.js";
import { VideoError, VideoNotFoundError, VideoSupersededError } from "./errors.js";
import { tempDirPrefix } from "./temp-dirs.js";

export interface FetchedVideo {
  file: string;
  size: number;
  etag: string;
  /** Removes the temporary folder; safe to call more than once. */
  cleanup(): Promise<void>;
}

/** Where videos come from: the input bucket in the cloud. */
export interface VideoSource {
  /** Downloads the object; with `etag`, only that content (else VideoSupersededError). */
  fetch(bucket: string, key: string, maxBytes: number, etag?: string): Promise<FetchedVideo>;
  /** The object's current ETag, or undefined once it is gone. */
  etag(bucket: string, key: string): Promise<string | undefined>;
}

export class S3VideoSource implements VideoSource {
  constructor(private readonly s3: S3Client) {}

  async fetch(bucket: string, key: string, maxBytes: number, etag?: string): Promise<FetchedVideo> {
    const dir = await mkdtemp(tempDirPrefix());
    const cleanup = () => rm(dir, { recursive: true, force: true });
    try {
      const file = join(dir, "video");
      const info = await downloadObject(this.s3, bucket, key, file, maxBytes, etag);
      return { file, size: info.size, etag: info.etag, cleanup };
    } catch (err) {
      await cleanup();
      if (err instanceof ObjectTooLargeError) throw new VideoError(err.message);
      if (etag && isPreconditionFailed(err)) throw new VideoSupersededError(key, etag);
      if (isNotFound(err)) throw new VideoNotFoundError(bucket, key);
      // The SDK names a bodiless 403 (HEAD) "UnknownError": say what it is (retryable: keys rotate).
      if (httpStatusOf(err) === 403) {
        throw new Error(`the storage refused access to bucket "${bucket}" (HTTP 403): check the S3 credentials`);
      }
      throw err;
    }
  }

  etag(bucket: string, key: string): Promise<string | undefined> {
    return currentEtag(this.s3, bucket, key);
  }
}

// ISO base media file (MP4, MOV, 3GP, M4V): the first box is one of these.
const MP4_FIRST_BOXES = new Set(["ftyp", "moov", "mdat", "free", "skip", "wide", "pnot"]);

/** Throws a VideoError naming what the file looks like when it is not an MP4/MOV container. */
export async function checkContainer(file: string): Promise<void> {
  const handle = await open(file, "r");
  let head: Buffer;
  let read: number;
  try {
    head = Buffer.alloc(64);
    ({ bytesRead: read } = await handle.read(head, 0, 64, 0));
  } finally {
    await handle.close();
  }
  if (read === 0) throw new VideoError("the object is empty");
  const box = read >= 8 ? head.toString("latin1", 4, 8) : "";
  if (MP4_FIRST_BOXES.has(box)) return;
  throw new VideoError(`not an MP4/MOV video: the content looks like ${describeContent(head.subarray(0, read))}`);
}

function describeContent(head: Buffer): string {
  const text = head.toString("latin1");
  if (text.startsWith("#EXTM3U")) return "an HLS playlist";
  if (text.startsWith("ffconcat")) return "an ffconcat script";
  if (head[0] === 0xff && head[1] === 0xd8) return "a JPEG image";
  if (text.startsWith("\x89PNG")) return "a PNG image";
  if (text.startsWith("RIFF")) return "a RIFF (AVI/WAV) file";
  if (text.startsWith("\x1aE\xdf\xa3")) return "a Matroska/WebM file";
  if (text.startsWith("ID3") || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0)) return "an MP3 audio file";
  if (/^[\t\n\r\x20-\x7e]*$/.test(text)) return "text";
  return "unrecognised binary data";
}
