// A restricted pickle reader. Python's pickle is a small stack machine whose GLOBAL + REDUCE
// opcodes import and call any function, so loading an untrusted pickle is running untrusted code.
// This reader implements only the opcodes that protocol 2–5 pickles of plain containers and numpy
// float arrays use, resolves only an allowlist of numpy globals, and never calls anything: a
// global becomes an inert marker, REDUCE records (callable, args) and BUILD records the state.
// pickle.ts then interprets those records structurally. Every length is checked against the
// bytes left and every table against a limit, so hostile input ends in a PickleError, not a
// crash, a hang or a huge allocation.

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

export interface PickleLimits {
  maxInputBytes: number;
  /** Values on the stack at once (Python batches list/dict items by 1000). */
  maxStack: number;
  /** Open MARKs at once. */
  maxMarks: number;
  /** Containers inside containers. */
  maxNesting: number;
  maxMemo: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = {
  maxInputBytes: 16 * 1024 * 1024,
  maxStack: 100_000,
  maxMarks: 64,
  maxNesting: 32,
  maxMemo: 1 << 20,
};

export interface PickleList {
  kind: "list";
  items: PickleValue[];
  depth: number;
}
export interface PickleTuple {
  kind: "tuple";
  items: readonly PickleValue[];
  depth: number;
}
export interface PickleDict {
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

// Opcodes known to Python but refused outright: they construct arbitrary objects or reach outside.
const UNSAFE_OPCODES = new Map<number, string>([
  [0x69, "INST"],
  [0x6f, "OBJ"],
  [0x81, "NEWOBJ"],
  [0x92, "NEWOBJ_EX"],
  [0x82, "EXT1"],
  [0x83, "EXT2"],
  [0x84, "EXT4"],
  [0x50, "PERSID"],
  [0x51, "BINPERSID"],
  [0x97, "NEXT_BUFFER"],
  [0x98, "READONLY_BUFFER"],
]);

// Opcodes known to Python that such files never contain; named in errors for clarity.
const UNSUPPORTED_OPCODES = new Map<number, string>([
  [0x49, "INT"],
  [0x4c, "LONG"],
  [0x8a, "LONG1"],
  [0x8b, "LONG4"],
  [0x46, "FLOAT"],
  [0x47, "BINFLOAT"],
  [0x53, "STRING"],
  [0x54, "BINSTRING"],
  [0x55, "SHORT_BINSTRING"],
  [0x56, "UNICODE"],
  [0x64, "DICT"],
  [0x6c, "LIST"],
  [0x30, "POP"],
  [0x31, "POP_MARK"],
  [0x32, "DUP"],
  [0x67, "GET"],
  [0x70, "PUT"],
  [0x8f, "EMPTY_SET"],
  [0x90, "ADDITEMS"],
  [0x91, "FROZENSET"],
]);

const utf8 = new TextDecoder("utf-8", { fatal: true });

function depthOf(v: PickleValue): number {
  return typeof v === "object" && v !== null && "depth" in v ? v.depth : 0;
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

/** Reads one pickle; see the file comment for what is accepted. */
export function readPickle(bytes: Uint8Array, limits: Partial<PickleLimits> = {}): PickleValue {
  return new Machine(bytes, { ...DEFAULT_PICKLE_LIMITS, ...limits }).run();
}

class Machine {
  private pos = 0;
  /** Offset of the opcode being executed, for errors. */
  private at = 0;
  private readonly view: DataView;
  private readonly stack: PickleValue[] = [];
  /** Stack heights at each open MARK. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly limits: PickleLimits,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private format(message: string): PickleFormatError {
    return new PickleFormatError(message, this.at);
  }

  // --- reading operands; every length is checked against what is left before anything is allocated

  /** `declared`: n came from the file (a length prefix) rather than from the opcode's fixed size. */
  private need(n: number, what: string, declared = false): void {
    const left = this.bytes.length - this.pos;
    if (n <= left) return;
    throw this.format(
      declared
        ? `${what} declares ${n} bytes but only ${left} remain`
        : `truncated: ${what} needs ${n} bytes, ${left} left`,
    );
  }

  private take(n: number, what: string): Uint8Array {
    this.need(n, what, true);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  private u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** An 8-byte length, refused before conversion when it exceeds what is left of the input. */
  private u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    const left = this.bytes.length - this.pos;
    if (v > BigInt(left)) throw this.format(`${what} declares ${v} bytes but only ${left} remain`);
    return Number(v);
  }

  private text(n: number, what: string): string {
    const raw = this.take(n, what);
    try {
      return utf8.decode(raw);
    } catch {
      throw this.format(`${what} is not valid UTF-8`);
    }
  }

  /** A GLOBAL operand: printable ASCII up to a newline, short. */
  private line(what: string): string {
    const max = 256;
    // Search a bounded window so a missing newline costs at most `max` bytes of scanning.
    const window = this.bytes.subarray(this.pos, this.pos + max + 1);
    const newline = window.indexOf(0x0a);
    const end = this.pos + newline;
    if (newline < 0) throw this.format(`${what}: no newline within ${max} bytes`);
    const raw = this.bytes.subarray(this.pos, end);
    if (raw.some((b) => b < 0x20 || b > 0x7e)) throw this.format(`${what} is not printable ASCII`);
    this.pos = end + 1;
    return String.fromCharCode(...raw);
  }

  // --- the stack

  private push(v: PickleValue): void {
    if (this.stack.length >= this.limits.maxStack) {
      throw this.format(`more than ${this.limits.maxStack} values on the stack`);
    }
    this.stack.push(v);
  }

  /** Values above the innermost MARK belong to it: popping into them is an underflow. */
  private floor(): number {
    return this.marks.length === 0 ? 0 : (this.marks[this.marks.length - 1] as number);
  }

  private pop(what: string): PickleValue {
    if (this.stack.length <= this.floor()) throw this.format(`${what}: stack underflow`);
    return this.stack.pop() as PickleValue;
  }

  private top(what: string): PickleValue {
    if (this.stack.length <= this.floor()) throw this.format(`${what}: stack underflow`);
    return this.stack[this.stack.length - 1] as PickleValue;
  }

  private popMark(what: string): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.format(`${what} without a MARK`);
    return this.stack.splice(mark);
  }

  private nested(childDepth: number): number {
    const depth = childDepth + 1;
    if (depth > this.limits.maxNesting) {
      throw this.format(`containers nested deeper than ${this.limits.maxNesting} levels`);
    }
    return depth;
  }

  private tuple(items: PickleValue[]): PickleTuple {
    let deepest = 0;
    for (const item of items) deepest = Math.max(deepest, depthOf(item));
    return { kind: "tuple", items, depth: this.nested(deepest) };
  }

  private memoPut(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) {
      throw this.format(`more than ${this.limits.maxMemo} memo entries`);
    }
    this.memo.set(index, this.top("memo put"));
  }

  private memoGet(index: number): void {
    const v = this.memo.get(index);
    if (v === undefined) throw this.format(`memo entry ${index} was never stored`);
    this.push(v);
  }

  private resolveGlobal(module: string, name: string): PickleGlobal {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) {
      throw new UnsafePickleError(`global ${full} is not allowed; only numpy array globals are accepted`, this.at);
    }
    return { kind: "global", module, name };
  }

  private append(list: PickleValue, items: PickleValue[], what: string): void {
    if (!isKind(list, "list")) {
      throw this.format(`${what} on ${describePickleValue(list)}; only lists are supported`);
    }
    for (const item of items) {
      list.depth = Math.max(list.depth, this.nested(depthOf(item)));
      list.items.push(item);
    }
  }

  private setItems(dict: PickleValue, items: PickleValue[], what: string): void {
    if (!isKind(dict, "dict")) {
      throw this.format(`${what} on ${describePickleValue(dict)}; only dicts are supported`);
    }
    if (items.length % 2 !== 0) throw this.format(`${what}: odd number of keys and values`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i] as PickleValue;
      const value = items[i + 1] as PickleValue;
      if (typeof key !== "string") {
        throw this.format(`dict key ${describePickleValue(key)}: only str keys are supported`);
      }
      if (dict.entries.has(key)) throw this.format(`duplicate dict key ${JSON.stringify(key)}`);
      dict.depth = Math.max(dict.depth, this.nested(depthOf(value)));
      dict.entries.set(key, value);
    }
  }

  private reduce(): void {
    const args = this.pop("REDUCE");
    const callable = this.pop("REDUCE");
    if (!isKind(callable, "global")) {
      throw new UnsafePickleError(
        `REDUCE of ${describePickleValue(callable)}; only allowlisted globals may be applied`,
        this.at,
      );
    }
    if (!ALLOWED_GLOBALS.get(globalName(callable))?.callable) {
      throw new UnsafePickleError(`REDUCE of ${globalName(callable)} is not allowed`, this.at);
    }
    if (!isKind(args, "tuple")) {
      throw this.format(`REDUCE arguments must be a tuple, got ${describePickleValue(args)}`);
    }
    this.push({ kind: "object", callable, args, depth: this.nested(args.depth) });
  }

  // Python's BUILD calls __setstate__ or sets attributes: allowed only on an object REDUCE just
  // recorded, once, and only recorded.
  private build(): void {
    const state = this.pop("BUILD");
    const target = this.top("BUILD");
    if (!isKind(target, "object")) {
      throw new UnsafePickleError(
        `BUILD on ${describePickleValue(target)}; only numpy objects may get a state`,
        this.at,
      );
    }
    if (target.state !== undefined) throw this.format(`BUILD twice on ${describePickleValue(target)}`);
    target.state = state;
    target.depth = Math.max(target.depth, this.nested(depthOf(state)));
  }

  run(): PickleValue {
    const { maxInputBytes } = this.limits;
    if (this.bytes.length > maxInputBytes) {
      throw new PickleFormatError(`input is ${this.bytes.length} bytes; the limit is ${maxInputBytes}`);
    }
    if (this.bytes[0] !== 0x80) {
      throw new PickleFormatError("not a protocol 2+ pickle (it must start with the PROTO opcode 0x80)", 0);
    }
    while (this.pos < this.bytes.length) {
      this.at = this.pos;
      const op = this.bytes[this.pos++] as number;
      if (op === 0x2e /* . STOP */) return this.stop();
      this.step(op);
    }
    throw new PickleFormatError("truncated: the pickle ends without a STOP opcode", this.bytes.length);
  }

  private stop(): PickleValue {
    if (this.marks.length > 0) throw this.format("STOP with an open MARK");
    if (this.stack.length !== 1) throw this.format(`STOP with ${this.stack.length} values on the stack (expected 1)`);
    if (this.pos !== this.bytes.length) {
      throw this.format(`${this.bytes.length - this.pos} unexpected bytes after STOP`);
    }
    return this.stack[0] as PickleValue;
  }

  private step(op: number): void {
    switch (op) {
      case 0x80: {
        // PROTO
        const version = this.u8("PROTO");
        if (this.at !== 0) throw this.format("PROTO may only appear first");
        if (version < 2 || version > 5) throw this.format(`pickle protocol ${version} is not supported (2–5 are)`);
        return;
      }
      case 0x95: {
        // FRAME: a length prefix for buffering; only its bounds matter here.
        this.u64("FRAME");
        return;
      }
      case 0x28: // ( MARK
        if (this.marks.length >= this.limits.maxMarks) {
          throw this.format(`more than ${this.limits.maxMarks} nested MARKs`);
        }
        this.marks.push(this.stack.length);
        return;
      case 0x7d: // } EMPTY_DICT
        this.push({ kind: "dict", entries: new Map(), depth: 1 });
        return;
      case 0x5d: // ] EMPTY_LIST
        this.push({ kind: "list", items: [], depth: 1 });
        return;
      case 0x29: // ) EMPTY_TUPLE
        this.push(this.tuple([]));
        return;
      case 0x74: // t TUPLE
        this.push(this.tuple(this.popMark("TUPLE")));
        return;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.pop(`TUPLE${n}`));
        this.push(this.tuple(items));
        return;
      }
      case 0x4e: // N NONE
        this.push(null);
        return;
      case 0x88: // NEWTRUE
        this.push(true);
        return;
      case 0x89: // NEWFALSE
        this.push(false);
        return;
      case 0x4b: // K BININT1
        this.push(this.u8("BININT1"));
        return;
      case 0x4d: // M BININT2
        this.push(this.u16("BININT2"));
        return;
      case 0x4a: // J BININT
        this.push(this.i32("BININT"));
        return;
      case 0x8c: // SHORT_BINUNICODE
        this.push(this.text(this.u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE"));
        return;
      case 0x58: // X BINUNICODE
        this.push(this.text(this.u32("BINUNICODE"), "BINUNICODE"));
        return;
      case 0x8d: // BINUNICODE8
        this.push(this.text(this.u64("BINUNICODE8"), "BINUNICODE8"));
        return;
      case 0x43: // C SHORT_BINBYTES
        this.push(this.take(this.u8("SHORT_BINBYTES"), "SHORT_BINBYTES"));
        return;
      case 0x42: // B BINBYTES
        this.push(this.take(this.u32("BINBYTES"), "BINBYTES"));
        return;
      case 0x8e: // BINBYTES8
        this.push(this.take(this.u64("BINBYTES8"), "BINBYTES8"));
        return;
      case 0x96: // BYTEARRAY8 (protocol 5 in-band buffers)
        this.push(this.take(this.u64("BYTEARRAY8"), "BYTEARRAY8"));
        return;
      case 0x71: // q BINPUT
        this.memoPut(this.u8("BINPUT"));
        return;
      case 0x72: // r LONG_BINPUT
        this.memoPut(this.u32("LONG_BINPUT"));
        return;
      case 0x94: // MEMOIZE
        this.memoPut(this.memo.size);
        return;
      case 0x68: // h BINGET
        this.memoGet(this.u8("BINGET"));
        return;
      case 0x6a: // j LONG_BINGET
        this.memoGet(this.u32("LONG_BINGET"));
        return;
      case 0x61: {
        // a APPEND
        const item = this.pop("APPEND");
        this.append(this.top("APPEND"), [item], "APPEND");
        return;
      }
      case 0x65: {
        // e APPENDS
        const items = this.popMark("APPENDS");
        this.append(this.top("APPENDS"), items, "APPENDS");
        return;
      }
      case 0x73: {
        // s SETITEM
        const value = this.pop("SETITEM");
        const key = this.pop("SETITEM");
        this.setItems(this.top("SETITEM"), [key, value], "SETITEM");
        return;
      }
      case 0x75: {
        // u SETITEMS
        const items = this.popMark("SETITEMS");
        this.setItems(this.top("SETITEMS"), items, "SETITEMS");
        return;
      }
      case 0x63: {
        // c GLOBAL: checked before anything else is read, so a refused name is refused at once.
        const module = this.line("GLOBAL module");
        const name = this.line("GLOBAL name");
        this.push(this.resolveGlobal(module, name));
        return;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop("STACK_GLOBAL");
        const module = this.pop("STACK_GLOBAL");
        if (typeof module !== "string" || typeof name !== "string") {
          throw this.format("STACK_GLOBAL needs a module and a name string");
        }
        this.push(this.resolveGlobal(module, name));
        return;
      }
      case 0x52: // R REDUCE
        this.reduce();
        return;
      case 0x62: // b BUILD
        this.build();
        return;
    }
    const unsafe = UNSAFE_OPCODES.get(op);
    if (unsafe) throw new UnsafePickleError(`opcode ${unsafe} is not allowed: it builds arbitrary objects`, this.at);
    const unsupported = UNSUPPORTED_OPCODES.get(op);
    if (unsupported) throw this.format(`opcode ${unsupported} is not supported by this restricted reader`);
    throw this.format(`unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
  }
}
