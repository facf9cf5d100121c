// The pickle's bytes, read forward for the machine (pickle-machine.ts): every length is checked
// against what is left before anything is allocated, and errors name the opcode's offset.
import { PickleFormatError } from "./pickle-values.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class PickleInput {
  pos = 0;
  /** Offset of the opcode being executed, for errors. */
  at = 0;
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  error(message: string): PickleFormatError {
    return new PickleFormatError(message, this.at);
  }

  /** `declared`: n came from the file (a length prefix) rather than from the opcode's fixed size. */
  need(n: number, what: string, declared = false): void {
    const left = this.bytes.length - this.pos;
    if (n <= left) return;
    throw this.error(
      declared
        ? `${what} declares ${n} bytes but only ${left} remain`
        : `truncated: ${what} needs ${n} bytes, ${left} left`,
    );
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what, true);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    return this.fixed(1, what, (at) => this.view.getUint8(at));
  }

  u16(what: string): number {
    return this.fixed(2, what, (at) => this.view.getUint16(at, true));
  }

  u32(what: string): number {
    return this.fixed(4, what, (at) => this.view.getUint32(at, true));
  }

  i32(what: string): number {
    return this.fixed(4, what, (at) => this.view.getInt32(at, true));
  }

  /** A little-endian number of `size` bytes, read by `read` at its offset. */
  private fixed<T>(size: number, what: string, read: (at: number) => T): T {
    this.need(size, what);
    const value = read(this.pos);
    this.pos += size;
    return value;
  }

  /** An 8-byte length, refused before conversion when it exceeds what is left of the input. */
  u64(what: string): number {
    const v = this.fixed(8, what, (at) => this.view.getBigUint64(at, true));
    const left = this.bytes.length - this.pos;
    if (v > BigInt(left)) throw this.error(`${what} declares ${v} bytes but only ${left} remain`);
    return Number(v);
  }

  text(n: number, what: string): string {
    const raw = this.take(n, what);
    try {
      return utf8.decode(raw);
    } catch {
      throw this.error(`${what} is not valid UTF-8`);
    }
  }

  /** A GLOBAL operand: printable ASCII up to a newline, short. */
  line(what: string): string {
    const max = 256;
    // Search a bounded window so a missing newline costs at most `max` bytes of scanning.
    const window = this.bytes.subarray(this.pos, this.pos + max + 1);
    const newline = window.indexOf(0x0a);
    const end = this.pos + newline;
    if (newline < 0) throw this.error(`${what}: no newline within ${max} bytes`);
    const raw = this.bytes.subarray(this.pos, end);
    if (raw.some((b) => b < 0x20 || b > 0x7e)) throw this.error(`${what} is not printable ASCII`);
    this.pos = end + 1;
    return String.fromCharCode(...raw);
  }
}
