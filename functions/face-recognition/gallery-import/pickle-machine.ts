// A restricted pickle reader. Python's pickle is a small stack machine whose GLOBAL + REDUCE
// opcodes import and call any function, so loading an untrusted pickle is running untrusted code.
// This reader implements only the opcodes that protocol 2–5 pickles of plain containers and numpy
// float arrays use, resolves only an allowlist of numpy globals, and never calls anything: a
// global becomes an inert marker, REDUCE records (callable, args) and BUILD records the state
// (pickle-stack.ts). numpy-array.ts then interprets those records structurally. Every length is
// checked against the bytes left and every table against a limit, so hostile input ends in a
// PickleError, not a crash, a hang or a huge allocation.
import { PickleInput } from "./pickle-input.js";
import { PickleStack } from "./pickle-stack.js";
import { PickleFormatError, type PickleValue, UnsafePickleError } from "./pickle-values.js";

const MAX_INPUT_BYTES = 16 * 1024 * 1024;

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

type Opcode = (input: PickleInput, stack: PickleStack) => void;

/** One value pushed from the operand after the opcode byte. */
const pushOperand =
  (read: (input: PickleInput) => PickleValue): Opcode =>
  (input, stack) =>
    stack.push(read(input));

/** TUPLE1, TUPLE2, TUPLE3: the top n values as a tuple. */
const tupleOf =
  (n: number): Opcode =>
  (_, stack) => {
    const items: PickleValue[] = [];
    for (let i = 0; i < n; i++) items.unshift(stack.pop(`TUPLE${n}`));
    stack.push(stack.tuple(items));
  };

// Each opcode this reader runs, with its letter or name.
const OPCODES = new Map<number, Opcode>([
  [
    0x80, // PROTO
    (input) => {
      const version = input.u8("PROTO");
      if (input.at !== 0) throw input.error("PROTO may only appear first");
      if (version < 2 || version > 5) throw input.error(`pickle protocol ${version} is not supported (2–5 are)`);
    },
  ],
  [0x95, (input) => input.u64("FRAME")], // a length prefix for buffering; only its bounds matter here
  [0x28, (_, stack) => stack.mark()], // ( MARK
  [0x7d, (_, stack) => stack.push({ kind: "dict", entries: new Map(), depth: 1 })], // } EMPTY_DICT
  [0x5d, (_, stack) => stack.push({ kind: "list", items: [], depth: 1 })], // ] EMPTY_LIST
  [0x29, (_, stack) => stack.push(stack.tuple([]))], // ) EMPTY_TUPLE
  [0x74, (_, stack) => stack.push(stack.tuple(stack.popMark("TUPLE")))], // t TUPLE
  [0x85, tupleOf(1)],
  [0x86, tupleOf(2)],
  [0x87, tupleOf(3)],
  [0x4e, (_, stack) => stack.push(null)], // N NONE
  [0x88, (_, stack) => stack.push(true)], // NEWTRUE
  [0x89, (_, stack) => stack.push(false)], // NEWFALSE
  [0x4b, pushOperand((input) => input.u8("BININT1"))], // K
  [0x4d, pushOperand((input) => input.u16("BININT2"))], // M
  [0x4a, pushOperand((input) => input.i32("BININT"))], // J
  [0x8c, pushOperand((input) => input.text(input.u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE"))],
  [0x58, pushOperand((input) => input.text(input.u32("BINUNICODE"), "BINUNICODE"))], // X
  [0x8d, pushOperand((input) => input.text(input.u64("BINUNICODE8"), "BINUNICODE8"))],
  [0x43, pushOperand((input) => input.take(input.u8("SHORT_BINBYTES"), "SHORT_BINBYTES"))], // C
  [0x42, pushOperand((input) => input.take(input.u32("BINBYTES"), "BINBYTES"))], // B
  [0x8e, pushOperand((input) => input.take(input.u64("BINBYTES8"), "BINBYTES8"))],
  [0x96, pushOperand((input) => input.take(input.u64("BYTEARRAY8"), "BYTEARRAY8"))], // protocol 5's in-band buffers
  [0x71, (input, stack) => stack.memoPut(input.u8("BINPUT"))], // q
  [0x72, (input, stack) => stack.memoPut(input.u32("LONG_BINPUT"))], // r
  [0x94, (_, stack) => stack.memoPut(stack.memoSize)], // MEMOIZE
  [0x68, (input, stack) => stack.memoGet(input.u8("BINGET"))], // h
  [0x6a, (input, stack) => stack.memoGet(input.u32("LONG_BINGET"))], // j
  [0x61, (_, stack) => stack.append([stack.pop("APPEND")], "APPEND")], // a
  [0x65, (_, stack) => stack.append(stack.popMark("APPENDS"), "APPENDS")], // e
  [
    0x73, // s SETITEM
    (_, stack) => {
      const value = stack.pop("SETITEM");
      const key = stack.pop("SETITEM");
      stack.setItems([key, value], "SETITEM");
    },
  ],
  [0x75, (_, stack) => stack.setItems(stack.popMark("SETITEMS"), "SETITEMS")], // u
  [
    0x63, // c GLOBAL: checked before anything else is read, so a refused name is refused at once.
    (input, stack) => {
      const module = input.line("GLOBAL module");
      const name = input.line("GLOBAL name");
      stack.push(stack.resolveGlobal(module, name));
    },
  ],
  [
    0x93, // STACK_GLOBAL
    (input, stack) => {
      const name = stack.pop("STACK_GLOBAL");
      const module = stack.pop("STACK_GLOBAL");
      if (typeof module !== "string" || typeof name !== "string") {
        throw input.error("STACK_GLOBAL needs a module and a name string");
      }
      stack.push(stack.resolveGlobal(module, name));
    },
  ],
  [0x52, (_, stack) => stack.reduce()], // R REDUCE
  [0x62, (_, stack) => stack.build()], // b BUILD
]);

/** Reads one pickle; see the file comment for what is accepted. */
export function readPickle(bytes: Uint8Array): PickleValue {
  if (bytes.length > MAX_INPUT_BYTES) {
    throw new PickleFormatError(`input is ${bytes.length} bytes; the limit is ${MAX_INPUT_BYTES}`);
  }
  if (bytes[0] !== 0x80) {
    throw new PickleFormatError("not a protocol 2+ pickle (it must start with the PROTO opcode 0x80)", 0);
  }
  const input = new PickleInput(bytes);
  const stack = new PickleStack(input);
  while (input.pos < bytes.length) {
    input.at = input.pos;
    const op = bytes[input.pos++] as number;
    if (op === 0x2e /* . STOP */) {
      const result = stack.result();
      if (input.pos !== bytes.length) throw input.error(`${bytes.length - input.pos} unexpected bytes after STOP`);
      return result;
    }
    const run = OPCODES.get(op) ?? refuse(op, input);
    run(input, stack);
  }
  throw new PickleFormatError("truncated: the pickle ends without a STOP opcode", bytes.length);
}

/** An opcode this reader does not run, named when Python knows it. */
function refuse(op: number, input: PickleInput): never {
  const unsafe = UNSAFE_OPCODES.get(op);
  if (unsafe) throw new UnsafePickleError(`opcode ${unsafe} is not allowed: it builds arbitrary objects`, input.at);
  const unsupported = UNSUPPORTED_OPCODES.get(op);
  if (unsupported) throw input.error(`opcode ${unsupported} is not supported by this restricted reader`);
  throw input.error(`unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
}
