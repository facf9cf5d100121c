// The host path's frames: MP4/MOV goes a fast way first: no stream probing, and an ffmpeg kept
// started ahead, waiting on its stdin, when the MP4's index (moov) comes before its data (a pipe
// cannot seek back): ffmpeg takes a while to start, as it links a few hundred shared libraries.
// Any video the fast way fails on is read again from the file, probed in full, by a fresh ffmpeg,
// which decides.
import { open } from "node:fs/promises";
import { fastThenProbed, fastWayApplies } from "../fallback.js";
import type { Frame, FrameOptions, ReadingOptions } from "../options.js";
import { type Decoder, startDecoder, startWaitingDecoder, type WaitingDecoder } from "./host-decoder.js";

/** Decoders started ahead, waiting for a video, by their options (as a key). */
const ahead = new Map<string, WaitingDecoder>();
/** The options for which one is kept waiting: readFramesThroughHost replaces the one it takes. */
const keptAhead = new Set<string>();

/**
 * Keeps an ffmpeg for these options (mov input only) waiting for the next video, from now on:
 * readFramesThroughHost, taking it, starts the next once the video's first frame is out, so that it has
 * started by the next video even when videos come back to back (ffmpeg is idle then in `first`
 * mode, stopped while the frame is analysed; started sooner, it would slow that first frame).
 */
export function startDecoderAhead(options: FrameOptions): void {
  if (!fastWayApplies(options)) return;
  const key = JSON.stringify(options);
  keptAhead.add(key);
  if (!ahead.has(key)) ahead.set(key, startAhead(options));
}

/** Stops the decoders kept ahead. An exiting process need not: its ffmpeg host stops them. */
export function stopDecodersAhead(): void {
  for (const spare of ahead.values()) spare.kill();
  ahead.clear();
  keptAhead.clear();
}

function startAhead(options: FrameOptions): WaitingDecoder {
  const decoder = startWaitingDecoder(options);
  decoder.keepProcessAlive(false);
  return decoder;
}

/**
 * Streams sampled frames. Breaking out of the loop kills ffmpeg at once. MP4/MOV input goes the
 * fast way first (a decoder started ahead when there is one, and no stream probing: the MP4's
 * index states what decoding needs); should that fail, the file probed in full decides.
 */
export async function* readFramesThroughHost(
  file: string,
  options: FrameOptions,
  reading: ReadingOptions = {},
): AsyncGenerator<Frame> {
  if (!fastWayApplies(options)) {
    yield* startDecoder(file, options).frames(reading);
    return;
  }
  const key = JSON.stringify(options);
  const spare = ahead.get(key);
  let fast: Decoder;
  let replaceSpare = false;
  if (spare && (await indexComesFirst(file))) {
    ahead.delete(key);
    spare.keepProcessAlive(true);
    spare.feed(file);
    fast = spare;
    replaceSpare = true;
  } else {
    fast = startDecoder(file, options, { probe: false });
  }
  const startNextSpare = () => {
    if (replaceSpare && keptAhead.has(key)) startDecoderAhead(options);
    replaceSpare = false;
  };
  // Samples far out of order (or a decoder that died) fail on a pipe; streams the index leaves
  // unclear fail unprobed; damaged files fail either way.
  const probed = () => startDecoder(file, options).frames(reading);
  try {
    for await (const frame of fastThenProbed(fast.frames(reading), probed, reading.signal)) {
      startNextSpare();
      yield frame;
    }
  } finally {
    startNextSpare();
  }
}

/** Whether the MP4's top-level boxes put the index (moov) before the media data (mdat). */
export async function indexComesFirst(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(16);
    let position = 0;
    for (let boxes = 0; boxes < 32 && position + 8 <= size; boxes++) {
      const { bytesRead } = await handle.read(header, 0, 16, position);
      if (bytesRead < 8) return false;
      const type = header.toString("latin1", 4, 8);
      if (type === "moov") return true;
      if (type === "mdat") return false;
      let boxSize = header.readUInt32BE(0);
      if (boxSize === 1 && bytesRead === 16) boxSize = Number(header.readBigUInt64BE(8));
      if (boxSize < 8) return false;
      position += boxSize;
    }
    return false;
  } finally {
    await handle.close();
  }
}
