// What the restricted pickle reader (pickle-machine.ts) produces: inert records of plain values,
// containers and allowlisted numpy globals, never live objects; and the errors it raises.

export class PickleError extends Error {
  constructor(
    message: string,
    /** Byte offset of the opcode at fault, when there is one. */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = new.target.name;
  }
}

/** Not a pickle this reader understands: truncated, malformed, unsupported, or the wrong structure. */
export class PickleFormatError extends PickleError {}

/** The pickle asks for something that would run code or build arbitrary objects in Python. */
export class UnsafePickleError extends PickleError {}

interface PickleList {
  kind: "list";
  items: PickleValue[];
  depth: number;
}
export interface PickleTuple {
  kind: "tuple";
  items: readonly PickleValue[];
  depth: number;
}
interface PickleDict {
  kind: "dict";
  /** Only str keys are accepted. */
  entries: Map<string, PickleValue>;
  depth: number;
}
/** An allowlisted global, never imported: a name the interpreter recognizes. */
export interface PickleGlobal {
  kind: "global";
  module: string;
  name: string;
}
/** What REDUCE (and a later BUILD) asked for, recorded instead of executed. */
export interface PickleObject {
  kind: "object";
  callable: PickleGlobal;
  args: PickleTuple;
  state?: PickleValue;
  depth: number;
}

/** bytes and bytearray are both Uint8Array (views into the input). */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PickleList
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | PickleObject;

type Kinded = Exclude<PickleValue, null | boolean | number | string | Uint8Array>;

/** Narrows to one container/record kind ("list", "tuple", "dict", "global", "object"). */
export function isKind<K extends Kinded["kind"]>(
  v: PickleValue | undefined,
  kind: K,
): v is Extract<Kinded, { kind: K }> {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) && v.kind === kind;
}

/**
 * The only globals a pickle may name: what numpy 1.x/2.x and Python 3 emit to rebuild a float
 * ndarray. `callable` says whether REDUCE may apply it (numpy.ndarray is only ever an argument).
 */
export const ALLOWED_GLOBALS: ReadonlyMap<string, { callable: boolean }> = new Map([
  ["numpy.core.multiarray._reconstruct", { callable: true }],
  ["numpy._core.multiarray._reconstruct", { callable: true }],
  ["numpy.core.numeric._frombuffer", { callable: true }], // protocol 5, numpy 1.x
  ["numpy._core.numeric._frombuffer", { callable: true }], // protocol 5, numpy 2.x
  ["numpy.dtype", { callable: true }],
  ["numpy.ndarray", { callable: false }],
  ["_codecs.encode", { callable: true }], // protocol 2 has no bytes opcode: bytes = encode(str, "latin1")
]);

export function globalName(g: PickleGlobal): string {
  return `${g.module}.${g.name}`;
}

export function describePickleValue(v: PickleValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return `int ${v}`;
  if (typeof v === "string") return `str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (v.kind === "global") return `global ${globalName(v)}`;
  if (v.kind === "object") return `${globalName(v.callable)}(...)`;
  if (v.kind === "dict") return `dict of ${v.entries.size}`;
  return `${v.kind} of ${v.items.length}`;
}
