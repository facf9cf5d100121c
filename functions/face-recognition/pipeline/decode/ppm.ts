// ffmpeg writes each frame as PPM (P6): raw RGB behind a header with the frame's own width and
// height, so the size after rotation and scaling never has to be guessed.

export interface PpmFrame {
  width: number;
  height: number;
  rgb: Buffer;
}

/** Cuts PPM (P6, maxval 255) frames out of a byte stream, whatever the chunk boundaries. */
export class PpmReader {
  /** Bytes of a header not yet complete. */
  private head: Buffer = Buffer.alloc(0);
  /** The frame being filled once its header is read: each byte is copied once (a 1080p frame comes in a hundred chunks). */
  private frame: (PpmFrame & { filled: number }) | undefined;

  push(chunk: Buffer): PpmFrame[] {
    const frames: PpmFrame[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      if (this.frame) {
        const { rgb } = this.frame;
        const taken = rest.copy(rgb, this.frame.filled, 0, Math.min(rest.length, rgb.length - this.frame.filled));
        this.frame.filled += taken;
        rest = rest.subarray(taken);
        if (this.frame.filled === rgb.length) {
          frames.push({ width: this.frame.width, height: this.frame.height, rgb });
          this.frame = undefined;
        }
        continue;
      }
      const buffer = this.head.length === 0 ? rest : Buffer.concat([this.head, rest]);
      const header = parseHeader(buffer);
      if (!header) {
        this.head = Buffer.from(buffer);
        break;
      }
      this.head = Buffer.alloc(0);
      const rgb = Buffer.allocUnsafe(header.width * header.height * 3);
      this.frame = { width: header.width, height: header.height, rgb, filled: 0 };
      rest = buffer.subarray(header.length);
    }
    return frames;
  }

  get pendingBytes(): number {
    return this.head.length + (this.frame?.filled ?? 0);
  }
}

function parseHeader(buf: Buffer): { width: number; height: number; length: number } | undefined {
  // "P6" WS width WS height WS maxval single-WS; ffmpeg writes "P6\n<w> <h>\n255\n".
  if (buf.length < 2) return undefined;
  if (buf[0] !== 0x50 || buf[1] !== 0x36) throw new Error("ffmpeg produced a frame that is not PPM");
  const fields: number[] = [];
  let i = 2;
  while (fields.length < 3) {
    while (i < buf.length && isSpace(buf[i] as number)) i++;
    const start = i;
    while (i < buf.length && !isSpace(buf[i] as number)) i++;
    if (i >= buf.length) return undefined;
    fields.push(Number(buf.toString("latin1", start, i)));
  }
  const [width, height, maxval] = fields as [number, number, number];
  if (maxval !== 255 || !(width > 0) || !(height > 0)) throw new Error("unexpected PPM header from ffmpeg");
  return { width, height, length: i + 1 };
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
