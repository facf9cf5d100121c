// The engine's speedups replace parts of face-api and tfjs in place: fused passes for the nets
// (fused-nets.ts), a weight loader writing into the backend's memory (model-weights.ts) and a trimmed
// tfjs while face-api loads (faces.ts). They rely on those packages' internals, so they are used only
// on the exact versions they were written for, and only on a backend where tests prove them equal to
// stock face-api (test/functions/face-recognition/pipeline/speedups.test.ts). Everywhere else: stock.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** `auto`: on where proven and the versions match; `off`: stock face-api always. */
export type SpeedupSetting = "auto" | "off";

export const SPEEDUP_SETTINGS = ["auto", "off"] as const satisfies readonly SpeedupSetting[];

/** The packages whose internals the speedups use, at the versions they were written and tested for. */
export const WRITTEN_FOR: Readonly<Record<string, string>> = {
  "@vladmandic/face-api": "1.7.15",
  "@tensorflow/tfjs": "4.22.0",
  "@tensorflow/tfjs-core": "4.22.0",
  "@tensorflow/tfjs-backend-wasm": "4.22.0",
};

/** The backends on which the tests compare the speedups with stock face-api. */
export const PROVEN_BACKENDS: readonly string[] = ["wasm"];

export type SpeedupDecision =
  | { enabled: true }
  | {
      enabled: false;
      reason: string /** true when the installed packages are not the ones written for */;
      versionMismatch: boolean;
    };

/** Whether to use the speedups. Pure: `installed` maps package names to their installed versions. */
export function decideSpeedups(
  setting: SpeedupSetting,
  backend: string,
  installed: Readonly<Record<string, string | undefined>>,
): SpeedupDecision {
  if (setting === "off") return { enabled: false, reason: "FACE_SPEEDUPS=off", versionMismatch: false };
  if (!PROVEN_BACKENDS.includes(backend))
    return { enabled: false, reason: `not proven on the ${backend} backend`, versionMismatch: false };
  const differing = Object.entries(WRITTEN_FOR)
    .filter(([name, version]) => installed[name] !== version)
    .map(([name, version]) => `${name} is ${installed[name] ?? "missing"}, not ${version}`);
  if (differing.length > 0)
    return { enabled: false, reason: `written for other versions: ${differing.join("; ")}`, versionMismatch: true };
  return { enabled: true };
}

const requireHere = createRequire(import.meta.url);

/** The installed version of each package in WRITTEN_FOR, as this process resolves it. */
export function installedVersions(): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.keys(WRITTEN_FOR).map((name) => {
      try {
        const manifest = requireHere.resolve(`${name}/package.json`);
        return [name, (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version];
      } catch {
        return [name, undefined];
      }
    }),
  );
}
