// What ffmpeg is asked to do with a video: read only it, sample it, scale each frame into a box
// and write the frames as PPM. The same for every decoder.
import type { FrameOptions } from "./options.js";

/**
 * Before the input: read only the video (the file, or its bytes on stdin: `pipe`), within the
 * pixel limit; `probe: false` skips ffmpeg's stream probing, for MP4/MOV (their index states what
 * decoding needs).
 */
export function inputOptions(
  options: FrameOptions,
  { probe, input }: { probe: boolean; input: "file" | "pipe" },
): string[] {
  return [
    "-nostdin",
    // Only the downloaded video may be read: never a URL or another file named inside it.
    "-protocol_whitelist",
    input,
    ...(options.inputFormat ? ["-f", options.inputFormat] : []),
    ...(options.startSeconds ? ["-ss", String(options.startSeconds)] : []),
    "-max_pixels",
    String(options.maxPixels),
    ...(options.threads ? ["-threads", String(options.threads)] : []),
    // Probing decodes frames only to throw them away.
    ...(probe ? [] : ["-nofind_stream_info"]),
  ];
}

/** After the input: sample, scale into the box, and write PPM frames. */
export function outputOptions(options: FrameOptions): string[] {
  const { maxWidth } = options;
  const maxHeight = options.maxHeight ?? 2 * maxWidth;
  const taller = `gt(ih*${maxWidth}\\,iw*${maxHeight})`;
  const filters = [
    // Counts every decoded frame, sampled or not; at the cap ffmpeg stops decoding, as at -t.
    ...(options.maxFrames ? [`trim=end_frame=${options.maxFrames}`] : []),
    // select, not fps: the fps filter looks ahead before it emits its first frame, and `first`
    // mode usually answers on that very frame.
    ...(options.fps > 0 ? [`select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${1 / options.fps})'`] : []),
    ...(options.padFactor && options.padFactor > 1
      ? [`pad=ceil(iw*${options.padFactor}/2)*2:ceil(ih*${options.padFactor}/2)*2:(ow-iw)/2:(oh-ih)/2:color=gray`]
      : []),
    // Scaled inside ffmpeg, so a huge frame never reaches JS memory at full size; even sizes for
    // RGB. Frames taller than the box are bounded by its height.
    `scale=w='if(${taller},-2,min(${maxWidth},iw))':h='if(${taller},min(${maxHeight},ih),-2)':flags=bilinear`,
  ];
  return [
    "-t",
    String(Math.min(options.maxSeconds, options.durationSeconds ?? Number.POSITIVE_INFINITY)),
    "-an",
    "-sn",
    "-dn",
    // One output picture per selected frame, never duplicated to a constant rate.
    "-fps_mode",
    "vfr",
    "-vf",
    filters.join(","),
    "-f",
    "image2pipe",
    "-c:v",
    "ppm",
    "-pix_fmt",
    "rgb24",
  ];
}
