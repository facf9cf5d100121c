// Test helper: a tiny re-implementation of Python's pickler (protocols 2–5) for the values numpy
// and face_recognition produce, so tests can make realistic pickles — and subtly wrong ones —
// without Python. It reproduces CPython's bytes exactly: opcode choice, memo numbering (by object
// identity, as CPython does), batching, framing. The tests prove that against the real
// encoding.pickle and, when numpy is installed, against numpy's own output.

export class PyStr {
  constructor(readonly value: string) {}
}
export class PyBytes {
  constructor(readonly value: Uint8Array) {}
}
/** A writable PickleBuffer pickled in-band (protocol 5): BYTEARRAY8. */
export class PyByteArray {
  constructor(readonly value: Uint8Array) {}
}
export class PyTuple {
  constructor(readonly items: Py[]) {}
}
export class PyList {
  constructor(readonly items: Py[]) {}
}
export class PyDict {
  constructor(readonly entries: [Py, Py][]) {}
}
export class PyGlobal {
  constructor(
    readonly module: PyStr,
    readonly name: PyStr,
  ) {}
}
/** An object pickled by __reduce__: func(*args), then BUILD state. */
export class PyReduce {
  constructor(
    readonly func: Py,
    readonly args: PyTuple,
    readonly state?: Py,
  ) {}
}
export type Py =
  | null
  | boolean
  | number
  | PyStr
  | PyBytes
  | PyByteArray
  | PyTuple
  | PyList
  | PyDict
  | PyGlobal
  | PyReduce;

export const str = (s: string): PyStr => new PyStr(s);
export const tuple = (...items: Py[]): PyTuple => new PyTuple(items);
export const list = (...items: Py[]): PyList => new PyList(items);

const BATCH = 1000;

class Pickler {
  private out: number[] = [];
  private readonly memo = new Map<object, number>();
  // Protocol 2 spells bytes as _codecs.encode(str, "latin1"); these are CPython's shared objects.
  private readonly codecsEncode = new PyGlobal(str("_codecs"), str("encode"));
  private readonly latin1 = str("latin1");

  constructor(private readonly protocol: number) {}

  dump(value: Py): Uint8Array {
    this.save(value);
    this.out.push(0x2e);
    const body = this.out;
    const head = [0x80, this.protocol];
    // One frame is enough for test sizes (CPython starts a new one every 64 KiB).
    if (this.protocol >= 4 && body.length >= 4) {
      if (body.length >= 65536) throw new Error("builder: frames over 64 KiB are not implemented");
      head.push(0x95, ...u64(body.length));
    }
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  }

  private write(...bytes: number[]): void {
    for (const b of bytes) this.out.push(b);
  }

  private writeBytes(bytes: Uint8Array): void {
    for (const b of bytes) this.out.push(b);
  }

  private memoize(obj: object): void {
    const index = this.memo.size;
    this.memo.set(obj, index);
    if (this.protocol >= 4) this.write(0x94);
    else if (index < 256) this.write(0x71, index);
    else this.write(0x72, ...u32(index));
  }

  save(value: Py): void {
    const index = value !== null && typeof value === "object" ? this.memo.get(value) : undefined;
    if (index !== undefined) {
      if (index < 256) this.write(0x68, index);
      else this.write(0x6a, ...u32(index));
    } else if (value === null) this.write(0x4e);
    else if (value === true) this.write(0x88);
    else if (value === false) this.write(0x89);
    else if (typeof value === "number") this.saveInt(value);
    else if (value instanceof PyStr) this.saveStr(value);
    else if (value instanceof PyBytes) this.saveBytes(value);
    else if (value instanceof PyByteArray) {
      this.write(0x96, ...u64(value.value.length));
      this.writeBytes(value.value);
      this.memoize(value);
    } else if (value instanceof PyTuple) this.saveTuple(value);
    else if (value instanceof PyList) {
      this.write(0x5d);
      this.memoize(value);
      this.batch(
        value.items.map((v) => [v]),
        0x61,
        0x65,
      );
    } else if (value instanceof PyDict) {
      this.write(0x7d);
      this.memoize(value);
      this.batch(value.entries, 0x73, 0x75);
    } else if (value instanceof PyGlobal) this.saveGlobal(value);
    else this.saveReduce(value);
  }

  private saveGlobal(value: PyGlobal): void {
    if (this.protocol >= 4) {
      this.save(value.module);
      this.save(value.name);
      this.write(0x93);
    } else {
      this.write(0x63, ...ascii(`${value.module.value}\n${value.name.value}\n`));
    }
    this.memoize(value);
  }

  private saveReduce(value: PyReduce): void {
    this.save(value.func);
    this.save(value.args);
    this.write(0x52);
    this.memoize(value);
    if (value.state !== undefined) {
      this.save(value.state);
      this.write(0x62);
    }
  }

  private saveInt(v: number): void {
    if (!Number.isInteger(v)) throw new Error("builder: floats are not implemented");
    if (v >= 0 && v <= 0xff) this.write(0x4b, v);
    else if (v >= 0 && v <= 0xffff) this.write(0x4d, v & 0xff, v >> 8);
    else if (v >= -(2 ** 31) && v < 2 ** 31) this.write(0x4a, ...u32(v >>> 0));
    else throw new Error("builder: LONG1 is not implemented");
  }

  private saveStr(s: PyStr): void {
    const bytes = new TextEncoder().encode(s.value);
    if (this.protocol >= 4 && bytes.length < 256) this.write(0x8c, bytes.length);
    else this.write(0x58, ...u32(bytes.length));
    this.writeBytes(bytes);
    this.memoize(s);
  }

  private saveBytes(b: PyBytes): void {
    if (this.protocol < 3) {
      const text = String.fromCharCode(...b.value);
      this.save(this.codecsEncode);
      this.save(tuple(str(text), this.latin1));
      this.write(0x52);
      this.memoize(b);
      return;
    }
    if (b.value.length < 256) this.write(0x43, b.value.length);
    else this.write(0x42, ...u32(b.value.length));
    this.writeBytes(b.value);
    this.memoize(b);
  }

  private saveTuple(t: PyTuple): void {
    const n = t.items.length;
    if (n === 0) {
      this.write(0x29);
      return;
    }
    if (n <= 3) {
      for (const item of t.items) this.save(item);
      this.write(0x84 + n);
    } else {
      this.write(0x28);
      for (const item of t.items) this.save(item);
      this.write(0x74);
    }
    this.memoize(t);
  }

  /** CPython's _batch_appends / _batch_setitems: single items alone, runs in MARK…APPENDS. */
  private batch(groups: Py[][], single: number, many: number): void {
    for (let start = 0; start < groups.length; start += BATCH) {
      const chunk = groups.slice(start, start + BATCH);
      if (chunk.length > 1) this.write(0x28);
      for (const group of chunk) for (const v of group) this.save(v);
      this.write(chunk.length > 1 ? many : single);
    }
  }
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function u64(v: number): number[] {
  return [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))];
}
function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

export function pickle(value: Py, protocol: number): Uint8Array {
  return new Pickler(protocol).dump(value);
}

// ---------------------------------------------------------------------------------------------
// numpy's side: the objects ndarray.__reduce_ex__ returns, with numpy's shared singletons.

export interface ArraySpec {
  values: ArrayLike<number>;
  /** Default "f8". Any string is written, so tests can ask for dtypes numpy has but we refuse. */
  dtype?: string;
  byteOrder?: "<" | ">" | "|" | "=";
  /** Default [values.length]. */
  shape?: number[];
  fortran?: boolean;
}

export class NumpyFlavor {
  private readonly interned = new Map<string, PyStr>();
  private readonly globals = new Map<string, PyGlobal>();
  private readonly dtypes = new Map<string, PyReduce>();
  private readonly typecode = new PyBytes(Uint8Array.of(0x62));

  /** `core`: "numpy.core" (numpy 1.x, as in encoding.pickle) or "numpy._core" (numpy 2.x). */
  constructor(
    readonly protocol: number,
    readonly core: "numpy.core" | "numpy._core" = "numpy._core",
  ) {}

  private intern(s: string): PyStr {
    let v = this.interned.get(s);
    if (!v) {
      v = str(s);
      this.interned.set(s, v);
    }
    return v;
  }

  global(module: string, name: string): PyGlobal {
    const key = `${module}.${name}`;
    let g = this.globals.get(key);
    if (!g) {
      g = new PyGlobal(this.intern(module), this.intern(name));
      this.globals.set(key, g);
    }
    return g;
  }

  dtype(kind: string, byteOrder: string): PyReduce {
    const key = `${byteOrder}${kind}`;
    let d = this.dtypes.get(key);
    if (!d) {
      d = new PyReduce(
        this.global("numpy", "dtype"),
        tuple(str(kind), false, true),
        // One-character strings are CPython singletons, so dtypes share their byte-order string.
        tuple(3, this.intern(byteOrder), null, null, null, -1, -1, 0),
      );
      this.dtypes.set(key, d);
    }
    return d;
  }

  array(spec: ArraySpec): PyReduce {
    const kind = spec.dtype ?? "f8";
    const order = spec.byteOrder ?? "<";
    const shape = spec.shape ?? [spec.values.length];
    const raw = rawData(spec.values, kind, order !== ">");
    const dtype = this.dtype(kind, order);
    if (this.protocol >= 5) {
      return new PyReduce(
        this.global(`${this.core}.numeric`, "_frombuffer"),
        tuple(new PyByteArray(raw), dtype, tuple(...shape), this.intern(spec.fortran ? "F" : "C")),
      );
    }
    return new PyReduce(
      this.global(`${this.core}.multiarray`, "_reconstruct"),
      tuple(this.global("numpy", "ndarray"), tuple(0), this.typecode),
      tuple(1, tuple(...shape), dtype, spec.fortran ?? false, new PyBytes(raw)),
    );
  }
}

function rawData(values: ArrayLike<number>, kind: string, little: boolean): Uint8Array {
  const size = kind.endsWith("4") ? 4 : 8;
  const view = new DataView(new ArrayBuffer(values.length * size));
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (kind === "f4") view.setFloat32(i * 4, v, little);
    else if (size === 4) view.setInt32(i * 4, v, little);
    else if (kind === "f8") view.setFloat64(i * 8, v, little);
    else view.setBigInt64(i * 8, BigInt(Math.trunc(v)), little);
  }
  return new Uint8Array(view.buffer);
}

/** The face_recognition training script's `{"name": [...], "encoding": [...]}`, pickled. */
export function encodingPickle(
  names: readonly string[],
  arrays: readonly ArraySpec[],
  options: { protocol?: number; core?: "numpy.core" | "numpy._core"; extra?: [Py, Py][] } = {},
): Uint8Array {
  const protocol = options.protocol ?? 3;
  const numpy = new NumpyFlavor(protocol, options.core);
  const dict = new PyDict([
    [str("name"), list(...names.map(str))],
    [str("encoding"), list(...arrays.map((a) => numpy.array(a)))],
    ...(options.extra ?? []),
  ]);
  return pickle(dict, protocol);
}

/** Deterministic descriptor-like values in [-0.5, 0.5). */
export function fakeDescriptor(seed: number, length = 128): number[] {
  return Array.from({ length }, (_, i) => (((seed * 7919 + i * 104729) % 1000) / 1000 - 0.5) * 0.987654321);
}

/** A dict with str keys. */
export const dict = (entries: [string, Py][]): PyDict => new PyDict(entries.map(([k, v]) => [str(k), v]));
