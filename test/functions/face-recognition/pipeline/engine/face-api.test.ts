// face-api loads on a part of tfjs-core (engine/face-api.ts, FACE_API_TFJS): the part must be what its build
// calls, and the rest of the process must still get the whole of tfjs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import {
  FACE_API_TFJS,
  FACE_API_WASM_BUILD,
  startFaceApi,
} from "../../../../../functions/face-recognition/pipeline/engine/face-api.js";

const require = createRequire(import.meta.url);

/** The tfjs names face-api's bundled build reads: `alias.name` where alias is its tfjs module. */
function tfjsNamesUsed(source: string): { aliases: string[]; names: Set<string> } {
  // esbuild wraps the module that requires "@tensorflow/tfjs" (`var x=wrap((exports,module)=>{…`)
  // and each of face-api's modules takes it as `var alias=toESM(x())`.
  const wrapper = /var ([\w$]+)=[\w$]+\(\([\w$]+,[\w$]+\)=>\{[\s\S]*?require\("@tensorflow\/tfjs"\)/.exec(source)?.[1];
  if (!wrapper) return { aliases: [], names: new Set() };
  const aliases = [
    ...source.matchAll(new RegExp(`([\\w$]+)=[\\w$]+\\(${wrapper.replace("$", "\\$")}\\(\\)\\)`, "g")),
  ].map((m) => m[1] as string);
  const names = new Set<string>();
  for (const alias of aliases) {
    const use = new RegExp(`(?<![\\w$.])${alias.replace("$", "\\$")}\\.([\\w$]+)`, "g");
    for (const m of source.matchAll(use)) names.add(m[1] as string);
  }
  return { aliases, names };
}

describe("face-api on a part of tfjs-core", () => {
  it("is given exactly the tfjs functions its wasm build calls", () => {
    const { aliases, names } = tfjsNamesUsed(readFileSync(require.resolve(FACE_API_WASM_BUILD), "utf8"));
    // A build whose layout this reading no longer knows fails here, not at a detection.
    expect(aliases.length).toBeGreaterThan(10);
    expect([...names].sort()).toEqual([...FACE_API_TFJS].sort());
    const core = require("@tensorflow/tfjs-core") as Record<string, unknown>;
    for (const name of FACE_API_TFJS) expect(core[name], name).toBeDefined();
  });

  it("leaves the whole of tfjs to the rest of the process", async () => {
    const { faceapi, tf } = await startFaceApi("wasm");
    expect(typeof (faceapi as unknown as { detectAllFaces: unknown }).detectAllFaces).toBe("function");
    // No stand-in left in require.cache: the union and the packages face-api did not need are whole.
    const union = require("@tensorflow/tfjs") as Record<string, unknown>;
    expect(typeof union.getBackend).toBe("function");
    expect(typeof union.loadGraphModel).toBe("function");
    expect(typeof union.sequential).toBe("function");
    expect(typeof (union.data as Record<string, unknown> | undefined)?.array).toBe("function");
    expect(union.tensor).toBe(tf.tensor);
    expect(tf.getBackend()).toBe("wasm");
  });
});
