// npx tsx scripts/eval/misses.ts [cache.json]: why the composed scenes' known faces are missed, face
// by face: not detected, detected but ignored by the rules (too small, unsure), detected but too far
// from the person or too near another, named wrongly, or seen in too few frames. The scenes' detections
// are kept in the cache file, so that the rules can be studied again without detecting again.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRecognitionSettings } from "../../functions/face-recognition/config.js";
import { enrollPhotos } from "../../functions/face-recognition/enroll.js";
import { type Gallery, toMatchIndex } from "../../functions/face-recognition/gallery/format.js";
import { scaleBox } from "../../functions/face-recognition/pipeline/engine/boxes.js";
import type { Box } from "../../functions/face-recognition/pipeline/engine/types.js";
import { distancesByPerson, judgeFace } from "../../functions/face-recognition/pipeline/match.js";
import { frameOptions, matchRules } from "../../functions/face-recognition/runtime.js";
import { readSettings } from "../../lib/config.js";
import { splitPeople } from "./dataset.js";
import { observeVideo, trackFrames, withEvalSetup } from "./observe.js";
import { runScript } from "./run-script.js";
import { detects } from "./scene-score.js";
import { composeScenes } from "./scene-video.js";
import { facesAt } from "./scenes.js";

interface Shown {
  name: string | null;
  /** Width in the composed frame. */
  width: number;
  /** Where it is in the sampled frame. */
  box: Box;
}
interface Cached {
  gallery: Gallery;
  scenes: { id: string; case: string; frames: { faces: CachedFace[]; shown: Shown[]; timeMs: number }[]; ms: number }[];
}
interface CachedFace {
  box: Box;
  score: number;
  descriptor: number[];
}

async function observe(cache: string): Promise<Cached> {
  if (existsSync(cache)) return JSON.parse(await readFile(cache, "utf8")) as Cached;
  let cached: Cached | undefined;
  await withEvalSetup("misses", async ({ data, settings, engine, work }) => {
    const split = await splitPeople(data);
    const { gallery } = await enrollPhotos(engine, split.enroll);
    const scenes = await composeScenes(data, split, work, settings);
    const observed: Cached = { gallery, scenes: [] };
    // EVAL_WHOLE_FRAME_EVERY: the search's scope to study (SearchScope), instead of the engine's.
    const every =
      process.env.EVAL_WHOLE_FRAME_EVERY === undefined ? undefined : Number(process.env.EVAL_WHOLE_FRAME_EVERY);
    for (const scene of scenes) {
      const { frames, ms } = await observeVideo(engine, scene.file, frameOptions(settings), every);
      observed.scenes.push({
        id: scene.id,
        case: scene.case,
        ms,
        frames: frames.map((frame) => ({
          timeMs: frame.timeMs,
          faces: frame.faces.map((f) => ({ box: f.box, score: f.score, descriptor: [...f.descriptor] })),
          shown: facesAt(scene, frame.timeMs / 1000).map(({ face, box }) => ({
            name: face.source.name,
            width: face.width,
            box: scaleBox(box, frame.width / scene.width),
          })),
        })),
      });
    }
    await writeFile(cache, JSON.stringify(observed));
    cached = observed;
  });
  return cached as Cached;
}

async function main(): Promise<void> {
  const cached = await observe(process.argv[2] ?? join(tmpdir(), "facerec-misses.json"));
  const settings = readSettings(process.env, readRecognitionSettings);
  const rules = matchRules(settings, cached.gallery);
  const index = toMatchIndex(cached.gallery);
  const causes = new Map<string, number>();
  console.log(`rules ${JSON.stringify(rules)}`);
  console.log(`detection, s a scene: ${cached.scenes.map((c) => (c.ms / 1000).toFixed(1)).join(" ")}`);
  for (const scene of cached.scenes) {
    const frames = scene.frames.map((f) => ({
      ...f,
      faces: f.faces.map((d) => ({ ...d, descriptor: Float32Array.from(d.descriptor) })),
    }));
    const tracker = trackFrames(index, rules, frames);
    const named = tracker.people().map((p) => p.name);
    const people = frames[0]?.shown ?? [];
    const wrong = named.filter((n) => !people.some((p) => p.name === n));
    for (const [i, person] of people.entries()) {
      const lines: string[] = [];
      let seen = 0;
      for (const f of frames) {
        const box = f.shown[i]?.box as Box;
        const hit = f.faces.find((d) => detects(d.box, box));
        if (!hit) {
          lines.push("-");
          continue;
        }
        seen++;
        const verdict = judgeFace(index, hit, rules);
        const distances = distancesByPerson(index, hit);
        const own = person.name ? (distances[index.names.indexOf(person.name)] as number) : Number.NaN;
        const order = [...distances.keys()].sort((a, b) => (distances[a] as number) - (distances[b] as number));
        const [first, second] = order.map((p) => `${index.names[p]} ${(distances[p] as number).toFixed(3)}`);
        const said =
          verdict.kind === "ignored" ? verdict.why : verdict.kind === "known" ? `=${verdict.name}` : "unknown";
        lines.push(
          `${said} w${Math.round(hit.box.width)} s${hit.score.toFixed(2)} own ${own.toFixed(3)}; ${first}; ${second}`,
        );
      }
      const cause = !person.name
        ? "stranger"
        : named.includes(person.name)
          ? "named"
          : seen === 0
            ? "not detected"
            : lines.some((l) => l.startsWith("too-small") || l.startsWith("low-score"))
              ? "ignored by the rules"
              : seen < Math.min(rules.minFrames, frames.length)
                ? "too few frames"
                : "unnamed (distance or margin)";
      const key = `${person.width} px ${cause}`;
      causes.set(key, (causes.get(key) ?? 0) + 1);
      if (cause !== "named" && cause !== "stranger")
        console.log(
          `${scene.id} ${scene.case.padEnd(20)} ${String(person.name).padEnd(14)} ${person.width} px: ${cause}\n    ${lines.join("\n    ")}`,
        );
    }
    if (wrong.length) console.log(`${scene.id}: WRONG NAMES ${wrong.join(", ")}`);
  }
  console.log(
    [...causes]
      .sort()
      .map(([k, n]) => `${k}: ${n}`)
      .join("\n"),
  );
}

runScript("misses", main);
