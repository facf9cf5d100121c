// What the decode stage gives (Frame) and what it is asked for (FrameOptions, ReadingOptions).

export interface Frame {
  /** 0-based index among the sampled frames. */
  index: number;
  /** Presentation time in milliseconds from the start of the video. */
  timeMs: number;
  width: number;
  height: number;
  /** width × height × 3 bytes, RGB, row-major. */
  rgb: Buffer;
}

export interface FrameOptions {
  /** Frames per second to sample; 0 means every frame. */
  fps: number;
  /** Frames wider than this are scaled down to it (never up), keeping their aspect. */
  maxWidth: number;
  /**
   * Frames taller than this are scaled down to it: detectors pad a frame to a square of its
   * longest side, so no side may be unbounded. Unset: twice maxWidth.
   */
  maxHeight?: number;
  /** Videos whose longer side is more than this many times the shorter are refused (unset: no limit). */
  maxAspect?: number;
  /** Videos stated at more frames per second are refused: every frame is decoded, sampled or not. */
  maxFps?: number;
  /** Longer videos are refused (the container's stated duration) and decoding stops there anyway. */
  maxSeconds: number;
  /** Decoding stops after this many frames, sampled or not (a stated rate can lie). Unset: no cap. */
  maxFrames?: number;
  /** Frames with more pixels are refused by the decoder before they are allocated. */
  maxPixels: number;
  /** Forces ffmpeg's demuxer ("mov" reads MP4/MOV only); unset lets ffmpeg probe (trusted files only). */
  inputFormat?: "mov";
  /** Decode from this second on, for this many seconds (enrollment from a video segment). */
  startSeconds?: number;
  durationSeconds?: number;
  /** Centre the picture on a grey canvas this many times its size: detectors miss faces in tight crops. */
  padFactor?: number;
  /** Decoder threads (placed before -i, where it has an effect). */
  threads?: number;
}

/** How the consumer reads the frames. */
export interface ReadingOptions {
  /**
   * Decode ahead only as far as the pipe holds: for a consumer that usually stops at the first
   * frame (`first` mode), frames decoded ahead are mostly work thrown away.
   */
  onDemand?: boolean;
  /** Aborted when the frames are no longer wanted (the caller left, a deadline): ffmpeg is killed at once and the reason thrown. */
  signal?: AbortSignal;
}

/** A sampled frame's presentation time: sampling starts at startSeconds, one frame every 1/fps s. */
export function sampleTimeMs(options: Pick<FrameOptions, "fps" | "startSeconds">, index: number): number {
  return Math.round((options.startSeconds ?? 0) * 1000 + (options.fps > 0 ? (index * 1000) / options.fps : 0));
}

/** How ffmpeg is run (DECODER): spawned from this process, or by the forked ffmpeg host. */
export const DECODERS = ["simple", "host"] as const;
export type DecoderKind = (typeof DECODERS)[number];
