// The pickle machine's stack, marks and memo, and what its opcodes build on them: containers, and
// records of REDUCE and BUILD in place of the calls Python would make. Every table is bounded, so
// hostile input ends in a PickleError, not a huge allocation.
import type { PickleInput } from "./pickle-input.js";
import {
  ALLOWED_GLOBALS,
  describePickleValue,
  globalName,
  isKind,
  type PickleFormatError,
  type PickleGlobal,
  type PickleTuple,
  type PickleValue,
  UnsafePickleError,
} from "./pickle-values.js";

/** Values on the stack at once (Python batches list/dict items by 1000). */
const MAX_STACK = 100_000;
/** Open MARKs at once. */
const MAX_MARKS = 64;
/** Containers inside containers. */
const MAX_NESTING = 32;
const MAX_MEMO = 1 << 20;

function depthOf(v: PickleValue): number {
  return typeof v === "object" && v !== null && "depth" in v ? v.depth : 0;
}

export class PickleStack {
  private readonly values: PickleValue[] = [];
  /** Stack heights at each open MARK. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();

  /** `input` only places errors at the opcode being executed. */
  constructor(private readonly input: PickleInput) {}

  private format(message: string): PickleFormatError {
    return this.input.error(message);
  }

  private unsafe(message: string): UnsafePickleError {
    return new UnsafePickleError(message, this.input.at);
  }

  push(v: PickleValue): void {
    if (this.values.length >= MAX_STACK) throw this.format(`more than ${MAX_STACK} values on the stack`);
    this.values.push(v);
  }

  /** Values above the innermost MARK belong to it: popping into them is an underflow. */
  private floor(): number {
    return this.marks.length === 0 ? 0 : (this.marks[this.marks.length - 1] as number);
  }

  pop(what: string): PickleValue {
    if (this.values.length <= this.floor()) throw this.format(`${what}: stack underflow`);
    return this.values.pop() as PickleValue;
  }

  top(what: string): PickleValue {
    if (this.values.length <= this.floor()) throw this.format(`${what}: stack underflow`);
    return this.values[this.values.length - 1] as PickleValue;
  }

  mark(): void {
    if (this.marks.length >= MAX_MARKS) throw this.format(`more than ${MAX_MARKS} nested MARKs`);
    this.marks.push(this.values.length);
  }

  popMark(what: string): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.format(`${what} without a MARK`);
    return this.values.splice(mark);
  }

  /** The one value a pickle leaves at STOP. */
  result(): PickleValue {
    if (this.marks.length > 0) throw this.format("STOP with an open MARK");
    if (this.values.length !== 1) throw this.format(`STOP with ${this.values.length} values on the stack (expected 1)`);
    return this.values[0] as PickleValue;
  }

  /** MEMOIZE's index: the next free one. */
  get memoSize(): number {
    return this.memo.size;
  }

  memoPut(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= MAX_MEMO) throw this.format(`more than ${MAX_MEMO} memo entries`);
    this.memo.set(index, this.top("memo put"));
  }

  memoGet(index: number): void {
    const v = this.memo.get(index);
    if (v === undefined) throw this.format(`memo entry ${index} was never stored`);
    this.push(v);
  }

  private nested(childDepth: number): number {
    const depth = childDepth + 1;
    if (depth > MAX_NESTING) throw this.format(`containers nested deeper than ${MAX_NESTING} levels`);
    return depth;
  }

  tuple(items: PickleValue[]): PickleTuple {
    let deepest = 0;
    for (const item of items) deepest = Math.max(deepest, depthOf(item));
    return { kind: "tuple", items, depth: this.nested(deepest) };
  }

  resolveGlobal(module: string, name: string): PickleGlobal {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) {
      throw this.unsafe(`global ${full} is not allowed; only numpy array globals are accepted`);
    }
    return { kind: "global", module, name };
  }

  append(items: PickleValue[], what: string): void {
    const list = this.top(what);
    if (!isKind(list, "list")) throw this.format(`${what} on ${describePickleValue(list)}; only lists are supported`);
    for (const item of items) {
      list.depth = Math.max(list.depth, this.nested(depthOf(item)));
      list.items.push(item);
    }
  }

  setItems(items: PickleValue[], what: string): void {
    const dict = this.top(what);
    if (!isKind(dict, "dict")) throw this.format(`${what} on ${describePickleValue(dict)}; only dicts are supported`);
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

  /** REDUCE: an allowlisted callable and its arguments, recorded instead of called. */
  reduce(): void {
    const args = this.pop("REDUCE");
    const callable = this.pop("REDUCE");
    if (!isKind(callable, "global")) {
      throw this.unsafe(`REDUCE of ${describePickleValue(callable)}; only allowlisted globals may be applied`);
    }
    if (!ALLOWED_GLOBALS.get(globalName(callable))?.callable) {
      throw this.unsafe(`REDUCE of ${globalName(callable)} is not allowed`);
    }
    if (!isKind(args, "tuple")) {
      throw this.format(`REDUCE arguments must be a tuple, got ${describePickleValue(args)}`);
    }
    this.push({ kind: "object", callable, args, depth: this.nested(args.depth) });
  }

  // Python's BUILD calls __setstate__ or sets attributes: allowed only on an object REDUCE just
  // recorded, once, and only recorded.
  build(): void {
    const state = this.pop("BUILD");
    const target = this.top("BUILD");
    if (!isKind(target, "object")) {
      throw this.unsafe(`BUILD on ${describePickleValue(target)}; only numpy objects may get a state`);
    }
    if (target.state !== undefined) throw this.format(`BUILD twice on ${describePickleValue(target)}`);
    target.state = state;
    target.depth = Math.max(target.depth, this.nested(depthOf(state)));
  }
}
