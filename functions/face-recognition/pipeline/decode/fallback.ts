// MP4/MOV is first decoded a fast way (no stream probing; on the host path, maybe streamed into an
// ffmpeg started ahead); should that fail, the file probed in full decides. Both decoders do this.
import type { Frame, FrameOptions } from "./options.js";

/** Whether the fast way applies: MP4/MOV (its index states what decoding needs), from its start. */
export function fastWayApplies(options: FrameOptions): boolean {
  return options.inputFormat === "mov" && !options.startSeconds;
}

/**
 * The fast run's frames; should it fail, the probed run's, skipping those already given, so the
 * consumer sees each frame once. Frames no longer wanted (an abort) are not read again.
 */
export async function* fastThenProbed(
  fast: AsyncIterable<Frame>,
  probed: () => AsyncIterable<Frame>,
  signal?: AbortSignal,
): AsyncGenerator<Frame> {
  let given = 0;
  try {
    for await (const frame of fast) {
      given++;
      yield frame;
    }
    return;
  } catch {
    signal?.throwIfAborted();
  }
  for await (const frame of probed()) {
    if (frame.index >= given) yield frame;
  }
}
