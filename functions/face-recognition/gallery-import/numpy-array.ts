// numpy float arrays in a pickle. pickle-machine.ts leaves inert records; this module recognizes,
// structurally, the exact shapes numpy writes for a float array and nothing else:
//   protocols 2–4: _reconstruct(ndarray, (0,), b"b") + BUILD (1, shape, dtype, is_fortran, raw)
//   protocol 5:    _frombuffer(raw, dtype, shape, order)
//   dtype:         dtype("f8"|"f4", False, True) + BUILD (3, "<"|">", None, None, None, -1, -1, 0)
//   protocol 2 bytes: _codecs.encode(str, "latin1")
import {
  describePickleValue,
  globalName,
  isKind,
  type PickleGlobal,
  type PickleObject,
  PickleFormatError,
  type PickleValue,
} from "./pickle-values.js";

export interface NdArray {
  shape: number[];
  dtype: "f8" | "f4";
  /** Values in C (row-major) order, widened to float64. */
  data: Float64Array;
}

const RECONSTRUCT = ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"];
const FROMBUFFER = ["numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer"];

function fail(where: string, problem: string): never {
  throw new PickleFormatError(`${where}: ${problem}`);
}

function isObject(v: PickleValue | undefined, names: readonly string[]): v is PickleObject {
  return isKind(v, "object") && names.includes(globalName(v.callable));
}

function isGlobal(v: PickleValue | undefined, name: string): v is PickleGlobal {
  return isKind(v, "global") && globalName(v) === name;
}

function tupleOf(v: PickleValue | undefined, length: number, where: string): readonly PickleValue[] {
  if (!isKind(v, "tuple") || v.items.length !== length) {
    return fail(where, `expected a tuple of ${length}, got ${describePickleValue(v)}`);
  }
  return v.items;
}

/** numpy (and Python 2) wrote flags both as bools and as 0/1. */
function flag(v: PickleValue | undefined, where: string): boolean {
  if (v === true || v === 1) return true;
  if (v === false || v === 0) return false;
  return fail(where, `expected a boolean, got ${describePickleValue(v)}`);
}

/** bytes, or protocol 2's _codecs.encode(str, "latin1") spelling of them. */
function bytesOf(v: PickleValue | undefined, where: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (isObject(v, ["_codecs.encode"]) && v.state === undefined) {
    const [text, encoding] = tupleOf(v.args, 2, `${where} (_codecs.encode)`);
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      fail(where, "_codecs.encode is only accepted as encode(str, 'latin1')");
    }
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0xff) fail(where, "latin1 text holds a character above U+00FF");
      out[i] = code;
    }
    return out;
  }
  return fail(where, `expected bytes, got ${describePickleValue(v)}`);
}

interface Dtype {
  kind: "f8" | "f4";
  littleEndian: boolean;
}

function dtypeOf(v: PickleValue | undefined, where: string): Dtype {
  if (!isObject(v, ["numpy.dtype"])) {
    return fail(where, `expected numpy.dtype(...), got ${describePickleValue(v)}`);
  }
  const [kind, align, copy] = tupleOf(v.args, 3, `${where} arguments`);
  if (kind !== "f8" && kind !== "f4") {
    return fail(
      where,
      `dtype ${typeof kind === "string" ? JSON.stringify(kind) : describePickleValue(kind)} is not supported (f8 or f4 only)`,
    );
  }
  flag(align, `${where} align`);
  flag(copy, `${where} copy`);
  if (v.state === undefined) return fail(where, "dtype without a state (byte order unknown)");
  const [version, order, subarray, names, fields, elsize, alignment, flags] = tupleOf(v.state, 8, `${where} state`);
  if (version !== 3) fail(where, `dtype state version ${describePickleValue(version)} is not supported (3 is)`);
  if (order !== "<" && order !== ">") {
    fail(where, `byte order ${describePickleValue(order)} is not supported ("<" or ">")`);
  }
  // A plain float dtype has no sub-array, no fields, the default size and alignment, no flags.
  if (subarray !== null || names !== null || fields !== null || elsize !== -1 || alignment !== -1 || flags !== 0) {
    fail(where, "only plain float dtypes are supported (no fields, sub-arrays or flags)");
  }
  return { kind, littleEndian: order === "<" };
}

function shapeOf(v: PickleValue | undefined, where: string): number[] {
  if (!isKind(v, "tuple")) {
    return fail(where, `expected a shape tuple, got ${describePickleValue(v)}`);
  }
  return v.items.map((d) => {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) fail(where, `bad dimension ${describePickleValue(d)}`);
    return d as number;
  });
}

/** Python's spelling: (128,) and (1, 128). */
function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function decode(
  raw: Uint8Array,
  shape: number[],
  dtype: Dtype,
  fortran: boolean,
  where: string,
  expectShape?: readonly number[],
): NdArray {
  // Checked before decoding: one large array referenced many times through the memo must not be
  // decoded many times.
  if (expectShape && (shape.length !== expectShape.length || shape.some((d, i) => d !== expectShape[i]))) {
    fail(where, `expected shape ${formatShape(expectShape)}, got ${formatShape(shape)}`);
  }
  const size = dtype.kind === "f8" ? 8 : 4;
  const count = shape.reduce((a, b) => a * b, 1);
  if (count * size !== raw.length) {
    fail(where, `shape ${formatShape(shape)} of ${dtype.kind} needs ${count * size} bytes, got ${raw.length}`);
  }
  // Fortran order only matters when two or more dimensions are longer than 1.
  if (fortran && shape.filter((d) => d > 1).length > 1) {
    fail(where, "Fortran-ordered multi-dimensional arrays are not supported");
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const little = dtype.littleEndian;
  const data = new Float64Array(count);
  if (size === 8) for (let i = 0; i < count; i++) data[i] = view.getFloat64(i * 8, little);
  else for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, little);
  return { shape, dtype: dtype.kind, data };
}

/**
 * Interprets the records numpy leaves for one float ndarray; anything else is a
 * PickleFormatError. `expectShape` refuses other shapes before any data is decoded.
 */
export function ndarrayFromPickle(v: PickleValue, where = "array", expectShape?: readonly number[]): NdArray {
  if (isObject(v, RECONSTRUCT)) {
    const [cls, base, typecode] = tupleOf(v.args, 3, `${where} _reconstruct arguments`);
    if (!isGlobal(cls, "numpy.ndarray")) fail(where, "_reconstruct must build a numpy.ndarray");
    const baseShape = tupleOf(base, 1, `${where} _reconstruct shape`);
    const code = bytesOf(typecode, `${where} _reconstruct typecode`);
    if (baseShape[0] !== 0 || code.length !== 1 || code[0] !== 0x62 /* "b" */) {
      fail(where, "unexpected _reconstruct arguments (numpy writes (ndarray, (0,), b'b'))");
    }
    if (v.state === undefined) fail(where, "ndarray without a state (no data)");
    const [version, shape, dtype, fortran, raw] = tupleOf(v.state, 5, `${where} state`);
    if (version !== 1) {
      fail(where, `ndarray state version ${describePickleValue(version)} is not supported (1 is)`);
    }
    return decode(
      bytesOf(raw, `${where} data`),
      shapeOf(shape, `${where} shape`),
      dtypeOf(dtype, `${where} dtype`),
      flag(fortran, `${where} is_fortran`),
      where,
      expectShape,
    );
  }
  if (isObject(v, FROMBUFFER)) {
    if (v.state !== undefined) fail(where, "_frombuffer result must not get a state");
    const [raw, dtype, shape, order] = tupleOf(v.args, 4, `${where} _frombuffer arguments`);
    if (order !== "C" && order !== "F") fail(where, `order ${describePickleValue(order)} is not "C" or "F"`);
    return decode(
      bytesOf(raw, `${where} data`),
      shapeOf(shape, `${where} shape`),
      dtypeOf(dtype, `${where} dtype`),
      order === "F",
      where,
      expectShape,
    );
  }
  return fail(where, `expected a numpy array, got ${describePickleValue(v)}`);
}
