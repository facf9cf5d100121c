// A corpus of hostile and broken uploads, generated on the spot with ffmpeg and plain bytes, each
// with the reason the function must give for it. Shared by test/security (CLI, handler) and
// test/e2e/hostile.test.ts (the whole stack).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Limits the corpus is built against: pass them to the function as MAX_VIDEO_* settings. */
export const CORPUS_LIMITS = {
  // Above every CSE546 clip (test_1 is 3.6 MB), so the stack's load test can use them all.
  MAX_VIDEO_BYTES: 8_000_000,
  MAX_VIDEO_SECONDS: 10,
  // The default (4096×2304): 4K passes and is scaled down, 8K and 16K are refused.
  MAX_VIDEO_PIXELS: 4096 * 2304,
  // The corpus tests refusals and bounds, not the small-face search (2–5 s a frame, measured in the
  // eval): frames at 640 px with no search, so its time limits measure what they are for.
  FRAME_WIDTH: 640,
  SMALL_FACE_SCALE: 0,
};

export interface HostileCase {
  /** Short name; also the object's file name (`<name>.mp4`). */
  name: string;
  file: string;
  /** The reason the function must give; undefined: the video is fine and yields a header-only CSV. */
  reason?: RegExp;
  /** Only the S3 path enforces MAX_VIDEO_BYTES (the CLI reads local, trusted files). */
  s3Only?: boolean;
}

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args], { stdio: "pipe" });
}

/**
 * Writes the corpus into `dir` (about 5 MB, a few seconds of ffmpeg). `goodVideo` is a small real
 * clip with a face (a CSE546 clip), used for the truncated and oversized cases.
 */
export function buildHostileCorpus(dir: string, goodVideo: string): HostileCase[] {
  const at = (name: string) => join(dir, `${name}.mp4`);
  const cases: HostileCase[] = [];
  const add = (name: string, reason: RegExp | undefined, make: (file: string) => void, s3Only = false) => {
    const file = at(name);
    make(file);
    cases.push({ name, file, reason, ...(s3Only ? { s3Only } : {}) });
  };

  add("empty", /^the object is empty$/, (f) => writeFileSync(f, ""));
  add("text", /^not an MP4\/MOV video: the content looks like text$/, (f) =>
    writeFileSync(f, "Hello, I am not a video at all.\n"),
  );
  add("jpeg", /^not an MP4\/MOV video: the content looks like a JPEG image$/, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", "-f", "mjpeg", f]),
  );
  add("random", /^not an MP4\/MOV video: the content looks like unrecognised binary data$/, (f) => {
    const bytes = randomBytes(64 * 1024);
    bytes[0] = 0x00; // never a lucky JPEG/ID3 signature
    bytes.write("junk", 4, "latin1"); // nor an MP4 box name
    writeFileSync(f, bytes);
  });
  add("hls-playlist", /^not an MP4\/MOV video: the content looks like an HLS playlist$/, (f) =>
    writeFileSync(
      f,
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile:///etc/passwd\n#EXTINF:2,\nhttp://127.0.0.1:9/x.ts\n",
    ),
  );
  add("ffconcat", /^not an MP4\/MOV video: the content looks like an ffconcat script$/, (f) =>
    writeFileSync(f, "ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:9/x.mp4'\n"),
  );
  // Plain concat demuxer scripts have no signature: they are text.
  add("concat-script", /^not an MP4\/MOV video: the content looks like text$/, (f) =>
    writeFileSync(f, "file '/etc/hostname'\n"),
  );
  add("truncated", /^the video is truncated or damaged$|^the MP4 is incomplete/, (f) => {
    const bytes = readFileSync(goodVideo);
    writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * 0.3)));
  });
  // moov at the end (ffmpeg's default): a cut-off upload has no index at all.
  add("truncated-no-index", /^the MP4 is incomplete or damaged \(no index: moov atom not found\)$/, (f) => {
    const whole = join(dir, "whole.tmp.mp4");
    ffmpeg(["-f", "lavfi", "-i", "testsrc=s=160x120:r=10", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", whole]);
    const bytes = readFileSync(whole);
    writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    rmSync(whole);
  });
  add("audio-only", /^the file has no video stream$/, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "aac", f]),
  );
  add("too-long", /^the video lasts 12\.0 s, over the limit of 10 s$/, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "color=c=gray:s=64x64:r=1", "-t", "12", "-c:v", "libx264", "-pix_fmt", "yuv420p", f]),
  );
  // Huge frames: MJPEG in MP4 is cheap to make at any size (a flat colour compresses to nothing).
  add("frame-8k", /^the video's frames are (7680×4320, over the limit of \d+ pixels|too large)$/, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "color=c=blue:s=7680x4320:r=1", "-t", "1", "-c:v", "mjpeg", "-q:v", "31", f]),
  );
  add("frame-16k", /^the video's frames are (15360×8640, over the limit of \d+ pixels|too large)$/, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "color=c=blue:s=15360x8640:r=1", "-t", "1", "-c:v", "mjpeg", "-q:v", "31", f]),
  );
  // Within the limit: decoded and scaled down inside ffmpeg; nobody in it, so a header-only CSV.
  add("frame-4k", undefined, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "color=c=green:s=3840x2160:r=2", "-t", "1", "-c:v", "mjpeg", "-q:v", "31", f]),
  );
  add("no-face", undefined, (f) =>
    ffmpeg(["-f", "lavfi", "-i", "testsrc=s=320x240:r=5", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", f]),
  );
  // Its track's samples "live" in /etc/passwd: ffmpeg must not open it (enable_drefs stays off).
  add(
    "external-dref",
    /^the video's data is in another file \(an external data reference\), which is not allowed$/,
    (f) => writeFileSync(f, withExternalDataReference(readFileSync(at("no-face")))),
  );
  // Over MAX_VIDEO_BYTES: a real clip padded past the limit.
  add(
    "too-big",
    new RegExp(`over the limit of ${CORPUS_LIMITS.MAX_VIDEO_BYTES}|larger than|too large`),
    (f) => {
      const clip = readFileSync(goodVideo);
      writeFileSync(
        f,
        Buffer.concat([clip, Buffer.alloc(Math.max(0, CORPUS_LIMITS.MAX_VIDEO_BYTES + 1 - clip.length))]),
      );
    },
    true,
  );
  return cases;
}

/**
 * Rewrites an MP4 so its video track's data reference points outside the file: the `dref`'s
 * self-contained `url ` entry becomes an `alis` (Mac alias) entry naming /etc/passwd, the form
 * ffmpeg's mov demuxer would open if its `enable_drefs` option were on. Box sizes up the tree are
 * fixed; chunk offsets are shifted so the file still plays from its own mdat.
 */
export function withExternalDataReference(mp4: Buffer): Buffer {
  const alis = makeAliasRecord("/etc/passwd");
  const out = rewrite(mp4, 0, mp4.length, []);
  return out;

  function rewrite(buf: Buffer, start: number, end: number, path: string[]): Buffer {
    const parts: Buffer[] = [];
    let at = start;
    while (at + 8 <= end) {
      const size = buf.readUInt32BE(at);
      const type = buf.toString("latin1", at + 4, at + 8);
      if (size < 8 || at + size > end) throw new Error(`bad box ${type} at ${at}`);
      const here = [...path, type];
      if (["moov", "trak", "mdia", "minf", "dinf"].includes(type)) {
        const inner = rewrite(buf, at + 8, at + size, here);
        parts.push(box(type, inner));
      } else if (type === "dref" && here.includes("dinf")) {
        // full box: version+flags (4), entry count (4), then entries; replace them with one alias.
        parts.push(box("dref", Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), alis])));
      } else {
        parts.push(buf.subarray(at, at + size));
      }
      at += size;
    }
    const joined = Buffer.concat(parts);
    if (path.length === 0) return fixChunkOffsets(joined, buf);
    return joined;
  }

  function box(type: string, body: Buffer): Buffer {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + body.length, 0);
    head.write(type, 4, "latin1");
    return Buffer.concat([head, body]);
  }

  /** The moov grew: when it precedes mdat, every stco offset moves by the same amount. */
  function fixChunkOffsets(next: Buffer, original: Buffer): Buffer {
    const delta = next.length - original.length;
    const mdatOld = original.indexOf("mdat", 0, "latin1");
    const mdatNew = next.indexOf("mdat", 0, "latin1");
    const moovNew = next.indexOf("moov", 0, "latin1");
    if (delta === 0 || moovNew > mdatNew || mdatNew - mdatOld !== delta) return next;
    for (let i = next.indexOf("stco", moovNew, "latin1"); i >= 0; i = next.indexOf("stco", i + 4, "latin1")) {
      const count = next.readUInt32BE(i + 8);
      for (let k = 0; k < count; k++) {
        const pos = i + 12 + k * 4;
        next.writeUInt32BE(next.readUInt32BE(pos) + delta, pos);
      }
    }
    return next;
  }
}

/** An 'alis' data-reference entry in the layout ffmpeg's mov_read_dref parses (libavformat/mov.c). */
function makeAliasRecord(target: string): Buffer {
  // After size, 'alis' and version/flags (0: not self-contained), 150 fixed bytes: 10 skipped,
  // the volume name (length byte + 27), 12 skipped, the file name (length byte + 63), 16
  // skipped, nlvl_from and nlvl_to, 16 skipped; then tagged fields (type, length, data) up to -1.
  const fixed = Buffer.alloc(150);
  const volume = "Vol";
  fixed.writeUInt8(volume.length, 10);
  fixed.write(volume, 11, "latin1");
  const name = target.slice(target.lastIndexOf("/") + 1);
  fixed.writeUInt8(name.length, 50);
  fixed.write(name, 51, "latin1");
  fixed.writeInt16BE(1, 130);
  fixed.writeInt16BE(1, 132);
  const tags: Buffer[] = [];
  const tag = (type: number, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeInt16BE(type, 0);
    head.writeUInt16BE(data.length, 2);
    tags.push(head, data, data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0));
  };
  tag(2, Buffer.from(`${volume}${target.replace(/\//g, ":")}`, "latin1")); // absolute path, HFS style
  const end = Buffer.alloc(4);
  end.writeInt16BE(-1, 0);
  const body = Buffer.concat([fixed, ...tags, end]);
  const head = Buffer.alloc(12);
  head.writeUInt32BE(12 + body.length, 0);
  head.write("alis", 4, "latin1");
  return Buffer.concat([head, body]);
}
