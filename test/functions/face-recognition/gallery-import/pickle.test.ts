import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GalleryError } from "../../../../functions/face-recognition/gallery/format.js";
import { importEncodingPickle } from "../../../../functions/face-recognition/gallery-import/encoding-pickle.js";
import { ndarrayFromPickle } from "../../../../functions/face-recognition/gallery-import/numpy-array.js";
import { readPickle } from "../../../../functions/face-recognition/gallery-import/pickle-machine.js";
import {
  PickleError,
  PickleFormatError,
  UnsafePickleError,
} from "../../../../functions/face-recognition/gallery-import/pickle-values.js";
import { requireData } from "../../../support/data.js";
import {
  type ArraySpec,
  encodingPickle,
  fakeDescriptor,
  dict,
  list,
  NumpyFlavor,
  type Py,
  type PyList,
  pickle,
  PyBytes,
  PyGlobal,
  PyReduce,
  str,
  tuple,
} from "./pickle-builder.js";

const data = requireData();
const scratch = mkdtempSync(join(tmpdir(), "pickle-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

const bytes = (...parts: (number | string | number[])[]): Uint8Array =>
  Uint8Array.from(
    parts.flatMap((p) => (typeof p === "number" ? [p] : typeof p === "string" ? [...Buffer.from(p, "latin1")] : p)),
  );
const u32 = (n: number): number[] => [...Buffer.from(Uint32Array.of(n).buffer)];

const three: ArraySpec[] = [1, 2, 3].map((seed) => ({ values: fakeDescriptor(seed) }));
const validPickle = encodingPickle(["ada", "bob", "cy"], three, { protocol: 3 });

describe("importEncodingPickle: the original encoding file", () => {
  it.skipIf(!data)("imports encoding.pickle: 11 people that match encoding.json", () => {
    const dir = data as string;
    const gallery = importEncodingPickle(readFileSync(join(dir, "cse546/encoding.pickle")));
    const json = JSON.parse(readFileSync(join(dir, "cse546/encoding.json"), "utf8")) as {
      entries: { name: string; descriptor: number[] }[];
    };
    expect(gallery.model).toBe("dlib-resnet");
    expect(gallery.people.map((p) => p.name)).toEqual(json.entries.map((e) => e.name));
    expect(gallery.people).toHaveLength(11);
    gallery.people.forEach((person, i) => {
      expect(person.descriptors).toHaveLength(1);
      const fromJson = json.entries[i]?.descriptor as number[];
      (person.descriptors[0] as number[]).forEach((v, j) => {
        // encoding.json carries 8 decimal places, so 1e-12 agreement is impossible: it must be
        // exactly the pickle's float64 rounded to 8 places (hence within 5e-9).
        expect(Number(v.toFixed(8))).toBe(fromJson[j]);
        expect(Math.abs(v - (fromJson[j] as number))).toBeLessThanOrEqual(5e-9 + 1e-17);
      });
    });
  });

  it.skipIf(!data)("reads every float64 bit-exactly: re-pickling reproduces the file byte for byte", () => {
    const original = readFileSync(join(data as string, "cse546/encoding.pickle"));
    const gallery = importEncodingPickle(original);
    const names = gallery.people.map((p) => p.name);
    const arrays = gallery.people.map((p) => ({ values: p.descriptors[0] as number[] }));
    expect(Buffer.from(encodingPickle(names, arrays, { protocol: 3, core: "numpy.core" })).equals(original)).toBe(true);
  });
});

describe("importEncodingPickle: what numpy writes", () => {
  it.each([2, 3, 4, 5])("protocol %i, numpy 1.x and 2.x module names, f8/f4, both byte orders", (protocol) => {
    const arrays: ArraySpec[] = [
      { values: fakeDescriptor(1) },
      { values: fakeDescriptor(2), dtype: "f4", byteOrder: ">" },
      { values: fakeDescriptor(3), byteOrder: ">" },
      { values: fakeDescriptor(4), dtype: "f4" },
    ];
    for (const core of ["numpy.core", "numpy._core"] as const) {
      const gallery = importEncodingPickle(encodingPickle(["a", "b", "a", "c"], arrays, { protocol, core }));
      expect(gallery.people.map((p) => [p.name, p.descriptors.length])).toEqual([
        ["a", 2],
        ["b", 1],
        ["c", 1],
      ]);
      expect(gallery.people[0]?.descriptors).toEqual([fakeDescriptor(1), fakeDescriptor(3)]);
      expect(gallery.people[1]?.descriptors[0]).toEqual(fakeDescriptor(2).map(Math.fround));
      expect(gallery.people[2]?.descriptors[0]).toEqual(fakeDescriptor(4).map(Math.fround));
    }
  });

  // The builder must match real numpy, or the tests above prove little. Runs where numpy exists.
  const numpy = spawnSync("python3", ["-c", "import numpy"]).status === 0;
  it.skipIf(!numpy)("the test pickles are byte-identical to numpy's own (protocols 2–5)", () => {
    const script = `
import base64, pickle, sys, numpy as np
def fake(seed, n=128):
    return [(((seed * 7919 + i * 104729) % 1000) / 1000 - 0.5) * 0.987654321 for i in range(n)]
d = {"name": ["a", "b", "c"], "encoding": [np.array(fake(1), dtype="<f8"), np.array(fake(2), dtype=">f4"), np.array(fake(3), dtype=">f8")]}
for p in (2, 3, 4, 5):
    print(base64.b64encode(pickle.dumps(d, protocol=p)).decode())
`;
    const run = spawnSync("python3", ["-c", script], { encoding: "utf8" });
    expect(run.status).toBe(0);
    const theirs = run.stdout.trim().split("\n");
    const arrays: ArraySpec[] = [
      { values: fakeDescriptor(1) },
      { values: fakeDescriptor(2), dtype: "f4", byteOrder: ">" },
      { values: fakeDescriptor(3), byteOrder: ">" },
    ];
    [2, 3, 4, 5].forEach((protocol, i) => {
      const mine = Buffer.from(encodingPickle(["a", "b", "c"], arrays, { protocol, core: "numpy._core" }));
      expect(mine.toString("base64")).toBe(theirs[i]);
    });
  });

  it("reads C-ordered matrices and 1-D Fortran arrays, refuses Fortran matrices", () => {
    const values = [1, 2, 3, 4, 5, 6];
    for (const protocol of [3, 5]) {
      const numpy = new NumpyFlavor(protocol);
      const matrix = ndarrayFromPickle(readPickle(pickle(numpy.array({ values, shape: [2, 3] }), protocol)));
      expect(matrix).toEqual({ shape: [2, 3], dtype: "f8", data: Float64Array.from(values) });
      const vector = ndarrayFromPickle(
        readPickle(pickle(numpy.array({ values, shape: [1, 6], fortran: true }), protocol)),
      );
      expect(vector.data).toEqual(Float64Array.from(values));
      const fortran = pickle(numpy.array({ values, shape: [2, 3], fortran: true }), protocol);
      expect(() => ndarrayFromPickle(readPickle(fortran))).toThrow(
        "array: Fortran-ordered multi-dimensional arrays are not supported",
      );
    }
  });
});

describe("hostile pickles are refused before anything could run", () => {
  // Verified with CPython: pickle.loads(payload) runs `touch <file>` and creates it.
  it("GLOBAL os.system + REDUCE: refused at the GLOBAL, and no file appears", () => {
    const marker = join(scratch, "pwned");
    const command = `touch ${marker}`;
    const payload = bytes(0x80, 2, "c", "os\nsystem\n", "X", u32(command.length), command, 0x85, "R", ".");
    const err = caught(() => importEncodingPickle(payload));
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err.message).toBe("global os.system is not allowed; only numpy array globals are accepted (at byte 2)");
    expect((err as PickleError).offset).toBe(2); // the GLOBAL, before the REDUCE was even read
    expect(existsSync(marker)).toBe(false);
  });

  it("os.system hidden inside an otherwise valid encoding file", () => {
    const marker = join(scratch, "pwned2");
    const numpy = new NumpyFlavor(3);
    const evil = new PyReduce(new PyGlobal(str("posix"), str("system")), tuple(str(`touch ${marker}`)));
    const payload = pickle(
      dict([
        ["name", list(str("ada"), str("bob"))],
        ["encoding", list(numpy.array({ values: fakeDescriptor(1) }), evil)],
      ]),
      3,
    );
    expect(() => importEncodingPickle(payload)).toThrow(UnsafePickleError);
    expect(() => importEncodingPickle(payload)).toThrow("global posix.system is not allowed");
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    [
      "builtins.eval by STACK_GLOBAL (protocol 4)",
      bytes(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, 0x8c, 5, "1 + 1", 0x85, "R", "."),
      "global builtins.eval is not allowed; only numpy array globals are accepted (at byte 18)",
    ],
    [
      "__builtin__.eval by GLOBAL (protocol 2)",
      bytes(0x80, 2, "c__builtin__\neval\n", "X", u32(5), "1 + 1", 0x85, "R", "."),
      "global __builtin__.eval is not allowed; only numpy array globals are accepted (at byte 2)",
    ],
    [
      "a lookalike of an allowed name",
      bytes(0x80, 3, "cnumpy.core.multiarray\n_reconstruct_\n", "."),
      "global numpy.core.multiarray._reconstruct_ is not allowed; only numpy array globals are accepted (at byte 2)",
    ],
    [
      "calling numpy.ndarray (allowed only as an argument)",
      bytes(0x80, 3, "cnumpy\nndarray\n", ")", "R", "."),
      "REDUCE of numpy.ndarray is not allowed (at byte 18)",
    ],
    [
      "REDUCE of something that is not a global",
      bytes(0x80, 3, "X", u32(4), "eval", ")", "R", "."),
      'REDUCE of str "eval"; only allowlisted globals may be applied (at byte 12)',
    ],
    [
      "BUILD on a list (would set attributes)",
      bytes(0x80, 3, "]", "}", "b", "."),
      "BUILD on list of 0; only numpy objects may get a state (at byte 4)",
    ],
    [
      "BUILD on a global (would patch a class)",
      bytes(0x80, 3, "cnumpy\ndtype\n", "}", "b", "."),
      "BUILD on global numpy.dtype; only numpy objects may get a state (at byte 16)",
    ],
    [
      "INST",
      bytes(0x80, 3, "(", "ios\nsystem\n", "."),
      "opcode INST is not allowed: it builds arbitrary objects (at byte 3)",
    ],
    [
      "NEWOBJ",
      bytes(0x80, 3, "]", ")", 0x81, "."),
      "opcode NEWOBJ is not allowed: it builds arbitrary objects (at byte 4)",
    ],
    [
      "BINPERSID",
      bytes(0x80, 3, "K", 1, "Q", "."),
      "opcode BINPERSID is not allowed: it builds arbitrary objects (at byte 4)",
    ],
  ])("%s", (_case, payload, message) => {
    const err = caught(() => readPickle(payload));
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err.message).toBe(message);
  });
});

describe("malformed pickles fail with a clear PickleFormatError", () => {
  const huge = 0xff;
  it.each([
    ["unknown opcode", bytes(0x80, 3, 0xff, "."), "unknown opcode 0xff (at byte 2)"],
    [
      "opcode outside the subset",
      bytes(0x80, 3, "G", [0, 0, 0, 0, 0, 0, 0, 0], "."),
      "opcode BINFLOAT is not supported by this restricted reader (at byte 2)",
    ],
    [
      "protocol 0 text pickle",
      bytes("(lp0\n."),
      "not a protocol 2+ pickle (it must start with the PROTO opcode 0x80) (at byte 0)",
    ],
    ["protocol 6", bytes(0x80, 6, "N", "."), "pickle protocol 6 is not supported (2–5 are) (at byte 0)"],
    ["empty input", bytes(), "not a protocol 2+ pickle (it must start with the PROTO opcode 0x80) (at byte 0)"],
    ["no STOP", bytes(0x80, 3, "N"), "truncated: the pickle ends without a STOP opcode (at byte 3)"],
    ["truncated operand", bytes(0x80, 3, "J", 1, 2), "truncated: BININT needs 4 bytes, 2 left (at byte 2)"],
    [
      "huge BINUNICODE length",
      bytes(0x80, 3, "X", [huge, huge, huge, huge], "abc"),
      "BINUNICODE declares 4294967295 bytes but only 3 remain (at byte 2)",
    ],
    [
      "huge BINBYTES length",
      bytes(0x80, 3, "B", [0, 0, 0, 0x7f], "."),
      "BINBYTES declares 2130706432 bytes but only 1 remain (at byte 2)",
    ],
    [
      "huge BINBYTES8 length",
      bytes(0x80, 4, 0x8e, new Array(8).fill(huge), "."),
      "BINBYTES8 declares 18446744073709551615 bytes but only 1 remain (at byte 2)",
    ],
    [
      "huge BYTEARRAY8 length",
      bytes(0x80, 5, 0x96, [0, 0, 0, 0, 1, 0, 0, 0], "."),
      "BYTEARRAY8 declares 4294967296 bytes but only 1 remain (at byte 2)",
    ],
    [
      "huge FRAME length",
      bytes(0x80, 4, 0x95, [0, 0, 0, 0, 0, 0, 0, 0x40], "N."),
      "FRAME declares 4611686018427387904 bytes but only 2 remain (at byte 2)",
    ],
    ["invalid UTF-8", bytes(0x80, 3, "X", u32(2), [0xc3, 0x28], "."), "BINUNICODE is not valid UTF-8 (at byte 2)"],
    [
      "GLOBAL without newline",
      bytes(0x80, 3, "c", "a".repeat(300)),
      "GLOBAL module: no newline within 256 bytes (at byte 2)",
    ],
    ["memo entry never stored", bytes(0x80, 3, "h", 5, "."), "memo entry 5 was never stored (at byte 2)"],
    [
      "APPEND to a dict",
      bytes(0x80, 3, "}", "N", "a", "."),
      "APPEND on dict of 0; only lists are supported (at byte 4)",
    ],
    [
      "non-str dict key",
      bytes(0x80, 3, "}", "K", 1, "N", "s", "."),
      "dict key int 1: only str keys are supported (at byte 6)",
    ],
    [
      "duplicate dict key",
      bytes(0x80, 3, "}", "(", "X", u32(1), "a", "N", "X", u32(1), "a", "N", "u", "."),
      'duplicate dict key "a" (at byte 18)',
    ],
    ["stack underflow", bytes(0x80, 3, "N", 0x86, "."), "TUPLE2: stack underflow (at byte 3)"],
    ["popping across a MARK", bytes(0x80, 3, "N", "(", "a", "."), "APPEND: stack underflow (at byte 4)"],
    ["two values at STOP", bytes(0x80, 3, "N", "N", "."), "STOP with 2 values on the stack (expected 1) (at byte 4)"],
    ["an open MARK at STOP", bytes(0x80, 3, "N", "(", "."), "STOP with an open MARK (at byte 4)"],
    ["trailing bytes", bytes(0x80, 3, "N", ".", "junk"), "4 unexpected bytes after STOP (at byte 3)"],
  ])("%s", (_case, payload, message) => {
    const err = caught(() => readPickle(payload));
    expect(err).toBeInstanceOf(PickleFormatError);
    expect(err.message).toBe(message);
  });

  it("bounds nesting: MARKs, tuples in tuples, a list appended to itself", () => {
    expect(() => readPickle(bytes(0x80, 3, new Array(65).fill(0x28)))).toThrow(
      "more than 64 nested MARKs (at byte 66)",
    );
    expect(() => readPickle(bytes(0x80, 3, ")", new Array(40).fill(0x85), "."))).toThrow(
      "containers nested deeper than 32 levels (at byte 34)",
    );
    const selfAppend = new Array(40).fill([0x68, 0, 0x61]).flat();
    expect(() => readPickle(bytes(0x80, 3, "]", "q", 0, selfAppend, "."))).toThrow(
      "containers nested deeper than 32 levels",
    );
  });

  it("bounds the stack, the memo and the input size", () => {
    expect(() => readPickle(bytes(0x80, 3, new Array(100_001).fill(0x4e), "."))).toThrow(
      "more than 100000 values on the stack",
    );
    expect(() => readPickle(bytes(0x80, 4, "N", new Array((1 << 20) + 1).fill(0x94), "."))).toThrow(
      "more than 1048576 memo entries",
    );
    // LONG_BINPUT can name any index: the count, not the index, is what is bounded.
    expect(readPickle(bytes(0x80, 3, "N", "r", u32(0xfffffff0), "."))).toBeNull();
    const big = new Uint8Array(16 * 1024 * 1024 + 1);
    big[0] = 0x80;
    expect(() => readPickle(big)).toThrow("input is 16777217 bytes; the limit is 16777216");
  });

  it("memo references cannot multiply the work: shapes are checked before decoding", () => {
    const numpy = new NumpyFlavor(3);
    const big = numpy.array({ values: new Float64Array(200_000) }); // 1.6 MB, pickled once
    const name = str("ada");
    const many = (n: number, v: Py): PyList => list(...new Array<Py>(n).fill(v));
    const started = Date.now();
    const amplified = pickle(
      dict([
        ["name", many(5000, name)],
        ["encoding", many(5000, big)],
      ]),
      3,
    );
    expect(() => importEncodingPickle(amplified)).toThrow("encoding[0]: expected shape (128,), got (200000,)");
    const one = numpy.array({ values: fakeDescriptor(1) });
    const repeated = pickle(
      dict([
        ["name", many(50_000, name)],
        ["encoding", many(50_000, one)],
      ]),
      3,
    );
    expect(importEncodingPickle(repeated).people).toEqual([{ name: "ada", descriptors: [fakeDescriptor(1)] }]);
    const tooMany = pickle(
      dict([
        ["name", many(100_001, name)],
        ["encoding", many(100_001, one)],
      ]),
      3,
    );
    expect(() => importEncodingPickle(tooMany)).toThrow("top level: 100001 encodings; the limit is 100000");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("every truncation of a valid file is a PickleFormatError", () => {
    for (const protocol of [2, 3, 4, 5]) {
      const whole = encodingPickle(["ada", "bob"], three.slice(0, 2), { protocol });
      for (let cut = 0; cut < whole.length; cut++) {
        const err = caught(() => importEncodingPickle(whole.subarray(0, cut)));
        if (!(err instanceof PickleFormatError)) throw new Error(`protocol ${protocol}, cut at ${cut}: ${err}`);
      }
    }
    const whole = encodingPickle(["ada"], three.slice(0, 1), { protocol: 3 });
    expect(() => importEncodingPickle(whole.subarray(0, 200))).toThrow(
      /^BINBYTES declares 1024 bytes but only 3 remain \(at byte 192\)$/,
    );
  });

  it("random corruption never escapes as anything but a PickleError or GalleryError", () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const protocol of [2, 3, 4, 5]) {
      const good = encodingPickle(["ada", "bob", "cy"], three, { protocol });
      for (let trial = 0; trial < 400; trial++) {
        const bad = Uint8Array.from(good);
        for (let flips = 1 + random(3); flips > 0; flips--) bad[random(bad.length)] = random(256);
        try {
          importEncodingPickle(bad);
        } catch (err) {
          if (!(err instanceof PickleError || err instanceof GalleryError)) {
            throw new Error(`protocol ${protocol}: ${err}`);
          }
        }
      }
    }
  });
});

describe("the structure must be exactly {name: [str], encoding: [float array (128,)]}", () => {
  const one = [{ values: fakeDescriptor(1) }];
  const numpy = new NumpyFlavor(3);
  const codecs = new PyGlobal(str("_codecs"), str("encode"));
  /** An encoding file whose one array is numpy's _reconstruct(ndarray, (0,), typecode) and no state. */
  const reconstructOnly = (typecode: Py, protocol: number): Uint8Array =>
    pickle(
      dict([
        ["name", list(str("a"))],
        [
          "encoding",
          list(
            new PyReduce(
              numpy.global("numpy.core.multiarray", "_reconstruct"),
              tuple(numpy.global("numpy", "ndarray"), tuple(0), typecode),
            ),
          ),
        ],
      ]),
      protocol,
    );
  it.each([
    [
      "a list at the top",
      pickle(list(str("a")), 3),
      'top level: expected a dict with keys "name" and "encoding", got list of 1',
    ],
    [
      "an extra key",
      encodingPickle(["a"], one, { extra: [[str("version"), 2]] }),
      'top level: unexpected key "version" (expected exactly "name" and "encoding")',
    ],
    ["a missing key", pickle(dict([["name", list(str("a"))]]), 3), '"encoding": expected a list, got nothing'],
    ["mismatched lengths", encodingPickle(["a", "b"], one), 'top level: "name" has 2 entries but "encoding" has 1'],
    [
      "a name that is not a str",
      pickle(
        dict([
          ["name", list(7)],
          ["encoding", list(numpy.array(one[0] as ArraySpec))],
        ]),
        3,
      ),
      "name[0]: expected a str, got int 7",
    ],
    ["an empty name", encodingPickle([""], one), "name[0]: must not be empty"],
    [
      "an encoding that is not an array",
      pickle(
        dict([
          ["name", list(str("a"))],
          ["encoding", list(str("x"))],
        ]),
        3,
      ),
      'encoding[0]: expected a numpy array, got str "x"',
    ],
    [
      "an int64 dtype",
      encodingPickle(["a"], [{ values: fakeDescriptor(1), dtype: "i8" }]),
      'encoding[0] dtype: dtype "i8" is not supported (f8 or f4 only)',
    ],
    [
      "a complex dtype",
      encodingPickle(["a"], [{ values: fakeDescriptor(1), dtype: "c16" }]),
      'encoding[0] dtype: dtype "c16" is not supported (f8 or f4 only)',
    ],
    [
      "a native byte order",
      encodingPickle(["a"], [{ values: fakeDescriptor(1), byteOrder: "=" }]),
      'encoding[0] dtype: byte order str "=" is not supported ("<" or ">")',
    ],
    [
      "127 values",
      encodingPickle(["a"], [{ values: fakeDescriptor(1, 127) }]),
      "encoding[0]: expected shape (128,), got (127,)",
    ],
    [
      "shape (1, 128)",
      encodingPickle(["a"], [{ values: fakeDescriptor(1), shape: [1, 128] }]),
      "encoding[0]: expected shape (128,), got (1, 128)",
    ],
    [
      "a shape that disagrees with the data",
      encodingPickle(["a"], [{ values: fakeDescriptor(1, 127), shape: [128] }]),
      "encoding[0]: shape (128,) of f8 needs 1024 bytes, got 1016",
    ],
    [
      "a NaN",
      encodingPickle(["a"], [{ values: [Number.NaN, ...fakeDescriptor(1, 127)] }]),
      "encoding[0][0]: expected a finite number, got number NaN",
    ],
    [
      "protocol-2 bytes via another codec",
      reconstructOnly(new PyReduce(codecs, tuple(str("b"), str("rot13"))), 2),
      "encoding[0] _reconstruct typecode: _codecs.encode is only accepted as encode(str, 'latin1')",
    ],
    [
      "an ndarray without its state",
      reconstructOnly(new PyBytes(Uint8Array.of(0x62)), 3),
      "encoding[0]: ndarray without a state (no data)",
    ],
  ] as [string, Uint8Array, string][])("refuses %s", (_case, payload, message) => {
    const err = caught(() => importEncodingPickle(payload));
    expect(err).toBeInstanceOf(PickleFormatError);
    expect(err.message).toBe(message);
  });

  it("accepts the valid file these variations start from", () => {
    expect(importEncodingPickle(validPickle).people.map((p) => p.name)).toEqual(["ada", "bob", "cy"]);
  });
});
