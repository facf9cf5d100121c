// npx tsx scripts/eval/detector-study.ts [frames per condition]: face detectors for the small-face
// search (issue 22) on composed 1920×1080 classroom frames (scenes.ts, scene-video.ts), each stored
// through H.264 (CRF 28 lit; CRF 30 dimmed with sensor noise). Per candidate: recall by face width,
// false detections per frame, median ms per frame. Candidates run one after another on each frame,
// so that the load of others sharing the cores falls on all of them alike. Writes /tmp/detector-study.md.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs-core";
import { readRecognitionSettings } from "../../functions/face-recognition/config.js";
import {
  BLAZEFACE_LOCATE,
  type BlazeFaceModel,
  loadBlazeFace,
} from "../../functions/face-recognition/pipeline/engine/blazeface.js";
import { iou, mergeBoxes, scaleBox, tiles } from "../../functions/face-recognition/pipeline/engine/boxes.js";
import { startFaceApi } from "../../functions/face-recognition/pipeline/engine/face-api.js";
import { loadHumanModel } from "../../functions/face-recognition/pipeline/engine/graph-models.js";
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { loadFaceEngine } from "../../functions/face-recognition/pipeline/faces.js";
import { SMALL_FACE_SEARCH } from "../../functions/face-recognition/pipeline/small-faces.js";
import { readSettings } from "../../lib/config.js";
import { dataDir } from "../../lib/shared-data.js";
import { runScript } from "./run-script.js";
import { composeFrame, locatePhoto } from "./scene-video.js";
import { facesAt, planScenes, type Scene, seededRandom } from "./scenes.js";

const WIDTHS = [24, 32, 40, 48, 64, 96];
const CONDITIONS = ["lit CRF 28", "dim+noise CRF 30"] as const;
type Found = { box: Box; score: number };
type Candidate = { name: string; find: (image: RgbImage) => Promise<Found[]> };
interface Tally {
  hits: Map<number, [found: number, present: number]>;
  falses: number;
  frames: number;
  ms: number[];
}

/** Classroom scenes of 9 faces in 1920×1080 landscape, face widths turned to cycle through WIDTHS. */
function classroomScenes(
  known: Parameters<typeof planScenes>[0],
  unknown: Parameters<typeof planScenes>[1],
  n: number,
) {
  const plans = planScenes(known, unknown, { scenes: 4 * n, knownPerScene: 6, unknownPerScene: 3, seed: 22 });
  return plans
    .filter((s) => s.width === 1920)
    .slice(0, n)
    .map(
      (scene, k): Scene => ({
        ...scene,
        faces: scene.faces.map((face, j) => {
          const width = WIDTHS[(k * 9 + j) % WIDTHS.length] as number;
          const x = Math.min(Math.max(face.x, 30), 1920 - 2 * width);
          const y = Math.min(Math.max(face.y, 30), 1080 - 2.2 * width);
          return { ...face, width, x, y: Math.round(y), vx: 0, vy: 0 };
        }),
      }),
    );
}

/** The frame stored as one H.264 frame at `crf` and decoded back (as a video's frame would be). */
async function throughH264(rgb: Buffer, width: number, height: number, crf: number): Promise<Buffer> {
  const raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${width}x${height}`];
  const encoded = await pipe(["-i", "pipe:0", "-c:v", "libx264", "-preset", "medium", "-crf", String(crf)], raw, rgb);
  return pipe(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], ["-f", "h264"], encoded, true);
}

async function pipe(args: string[], input: string[], data: Buffer, decode = false): Promise<Buffer> {
  const tail = decode ? args : [...args, "-pix_fmt", "yuv420p", "-f", "h264", "pipe:1"];
  const ffmpeg = spawn("ffmpeg", ["-v", "error", ...input, ...(decode ? ["-i", "pipe:0"] : []), ...tail], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const chunks: Buffer[] = [];
  ffmpeg.stdout.on("data", (c: Buffer) => chunks.push(c));
  ffmpeg.stdin.end(data);
  const [code] = (await once(ffmpeg, "close")) as [number];
  if (code !== 0) throw new Error(`ffmpeg exited with ${code}`);
  return Buffer.concat(chunks);
}

/** A dim hall: light at 45 % and sensor noise (σ 6 levels), seeded. */
function dimmed(rgb: Buffer, seed: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.alloc(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const noise = (random() + random() + random() - 1.5) * 6 * 2;
    out[i] = Math.max(0, Math.min(255, Math.round((rgb[i] as number) * 0.45 + noise)));
  }
  return out;
}

/** A true face is found by a detection overlapping it (IoU ≥ 0.3), or holding its centre at a size within 2×. */
function matches(truth: Box, found: Box): boolean {
  if (iou(truth, found) >= 0.3) return true;
  const cx = truth.x + truth.width / 2;
  const cy = truth.y + truth.height / 2;
  const inside = cx >= found.x && cx <= found.x + found.width && cy >= found.y && cy <= found.y + found.height;
  const ratio = found.width / truth.width;
  return inside && ratio >= 0.5 && ratio <= 2;
}

function score(tally: Tally, truths: { box: Box; width: number }[], found: Found[]): void {
  const used = new Set<number>();
  for (const truth of truths) {
    const at = found.findIndex((f, i) => !used.has(i) && matches(truth.box, f.box));
    if (at >= 0) used.add(at);
    const cell = tally.hits.get(truth.width) ?? [0, 0];
    tally.hits.set(truth.width, [cell[0] + (at >= 0 ? 1 : 0), cell[1] + 1]);
  }
  // A second box on a face already found is not a false detection; a box on no face is.
  tally.falses += found.filter((f, i) => !used.has(i) && !truths.some((t) => matches(t.box, f.box))).length;
  tally.frames++;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const data = dataDir();
  if (!data) throw new Error("no labeled data: set FACEREC_DATA_DIR");
  const perCondition = Number(process.argv[2] ?? 8);
  const only = process.argv.slice(3);
  const settings = readSettings(process.env, readRecognitionSettings);
  const { faceapi, tf } = await startFaceApi(settings.backend, settings.speedups);
  const base = { backend: settings.backend, speedups: settings.speedups, tinyInputSize: 416, detectWidth: 0 };
  const ssd = await loadFaceEngine({ ...base, detector: "ssd", minDetectionScore: 0.5, tinySecondInputSize: 0 });
  const detect = (image: RgbImage) => ssd.detect(image);
  const people = join(data, "people");
  const known = [];
  for (const name of (await readdir(people)).sort())
    for (const file of (await readdir(join(people, name))).sort())
      known.push(await locatePhoto(name, join(people, name, file), detect));
  const unknown = [];
  for (const file of (await readdir(join(data, "extra"))).filter((f) => f.startsWith("unknown_")).sort())
    unknown.push(await locatePhoto(null, join(data, "extra", file), detect));
  const scenes = classroomScenes(known, unknown, perCondition);
  console.log(`${scenes.length} scenes × ${CONDITIONS.length} conditions, ${known.length} photos`);

  const toTensor = (image: RgbImage) =>
    tf.tensor3d(
      new Uint8Array(image.rgb.buffer, image.rgb.byteOffset, image.rgb.length),
      [image.height, image.width, 3],
      "int32",
    );
  const onTensor = async <T>(image: RgbImage, use: (t: tfjs.Tensor3D) => Promise<T>) => {
    const t = toTensor(image);
    try {
      return await use(t);
    } finally {
      t.dispose();
    }
  };
  // (a) today's search as runtime.ts configures it: full-frame pass, proposals, crops confirmed, descriptors.
  const engine = await loadFaceEngine({
    ...base,
    detector: settings.detector,
    minDetectionScore: Math.min(0.4, settings.rules.minScore ?? 0.4),
    tinyInputSize: settings.tinyInputSize,
    tinySecondInputSize: settings.tinySecondInputSize,
    detectWidth: settings.detectWidth,
    smallFaces: { ...SMALL_FACE_SEARCH, tileScale: settings.smallFaceScale, detector: "tiny" },
  });
  type DetectAll = (t: tfjs.Tensor3D, o: object) => Promise<Found[]>;
  const detectAll = faceapi.detectAllFaces as unknown as DetectAll;
  const tinyAt = async (t: tfjs.Tensor3D, input: number) =>
    (await detectAll(t, new faceapi.TinyFaceDetectorOptions({ inputSize: input, scoreThreshold: 0.4 }))).map((d) => ({
      score: d.score,
      box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height },
    }));
  // (a') its proposal step alone (small-faces.ts proposeInWholeFrame): tiny at 1024, tiles enlarged 1.5× and 2×.
  const tinyProposals = (image: RgbImage) =>
    onTensor(image, async (t) => {
      const found = await tinyAt(t, 1024);
      for (const side of [Math.round(416 / settings.smallFaceScale), 208])
        for (const tile of tiles(image.width, image.height, side, Math.round(side / 4))) {
          const crop = tf.tidy(() =>
            tf.image.resizeBilinear(tf.slice(t, [tile.y, tile.x, 0], [tile.height, tile.width, 3]), [416, 416]),
          ) as tfjs.Tensor3D;
          const boxes = await tinyAt(crop, 416).finally(() => crop.dispose());
          for (const b of boxes) found.push({ score: b.score, box: scaleBox(b.box, tile.width / 416, tile.x, tile.y) });
        }
      return mergeBoxes(found);
    });
  const candidates: Candidate[] = [
    { name: "today: engine.detect (search + descriptors)", find: (image) => engine.detect(image) },
    { name: "today: tiny proposals only", find: tinyProposals },
  ];
  // Tiles alone (a face up to 0.3 × side lies whole in one), or with the frame whole (one padded tile).
  const variants: [BlazeFaceModel, number[], number, boolean][] = [
    ...[384, 480].flatMap((side) =>
      [0.5, 0.3, 0.2].map((score): [BlazeFaceModel, number[], number, boolean] => [
        "facemesh-detection-full",
        [side],
        score,
        false,
      ]),
    ),
    ["facemesh-detection-full", [384], 0.3, true],
    ["facemesh-detection-full", [480], 0.3, true],
    ["facemesh-detection-full", [480, 1920], 0.5, false],
    ["facemesh-detection-full", [384, 1920], 0.3, false],
    ["facemesh-detection-full", [560], 0.5, false],
    ["facemesh-detection-full", [640], 0.35, false],
    ["blazeface-back", [256, 1920], 0.5, false],
    ["blazeface-back", [320], 0.5, false],
    ["blazeface-back", [320], 0.35, false],
    ["blazeface-back", [384], 0.5, false],
  ];
  for (const [model, tileSides, minScore, bothHeads] of variants) {
    const locator = await loadBlazeFace(tf, { ...BLAZEFACE_LOCATE, model, tileSides, minScore, bothHeads });
    const name = `${model} tiles ${tileSides.join("+")}, score ${minScore}${bothHeads ? ", both heads" : ""}`;
    candidates.push({ name, find: (i) => onTensor(i, (t) => locator.locate(t)) });
  }
  const faceboxes = await loadHumanModel(tf, "faceboxes");
  const boxesAt = (scale: number) => (image: RgbImage) =>
    onTensor(image, async (t) => {
      const input = tf.tidy(() => {
        const scaled =
          scale === 1
            ? t
            : tf.image.resizeBilinear(t, [Math.round(image.height * scale), Math.round(image.width * scale)]);
        return tf.expandDims(tf.cast(scaled, "int32"), 0);
      });
      const out = (await faceboxes
        .executeAsync(input, ["scores", "boxes", "num_boxes"])
        .finally(() => input.dispose())) as tfjs.Tensor[];
      const [scores, boxes] = await Promise.all(out.slice(0, 2).map((o) => o.data()));
      tf.dispose(out);
      const found: Found[] = [];
      for (let i = 0; i < (scores?.length ?? 0); i++) {
        const s = scores?.[i] as number;
        if (s < 0.5) continue;
        const [y1, x1, y2, x2] = Array.from(boxes?.slice(4 * i, 4 * i + 4) ?? []) as [number, number, number, number];
        const { width: w, height: h } = image;
        found.push({ score: s, box: { x: x1 * w, y: y1 * h, width: (x2 - x1) * w, height: (y2 - y1) * h } });
      }
      return found;
    });
  candidates.push(
    { name: "faceboxes whole frame", find: boxesAt(1) },
    { name: "faceboxes whole frame ×1.5", find: boxesAt(1.5) },
  );
  const chosen = only.length ? candidates.filter((c) => only.some((o) => c.name.startsWith(o))) : candidates;

  const tallies = new Map<string, Tally>();
  const key = (c: string, cond: string) => `${c}\t${cond}`;
  for (const [k, scene] of scenes.entries()) {
    const clean = composeFrame(scene, 0);
    const truths = facesAt(scene, 0).map(({ box, face }) => ({ box, width: face.width }));
    for (const condition of CONDITIONS) {
      const rgb = condition.startsWith("lit")
        ? await throughH264(clean, 1920, 1080, 28)
        : await throughH264(dimmed(clean, 100 + k), 1920, 1080, 30);
      const image = { width: 1920, height: 1080, rgb };
      for (const candidate of chosen) {
        const before = tf.memory().numTensors;
        const start = performance.now();
        const found = await candidate.find(image);
        const ms = performance.now() - start;
        if (candidate === candidates[0])
          console.log(`engine: ${Math.round(ms)} ms, widths ${found.map((f) => Math.round(f.box.width))}`);
        if (tf.memory().numTensors !== before)
          console.warn(`${candidate.name}: ${tf.memory().numTensors - before} tensors left`);
        const tally: Tally = tallies.get(key(candidate.name, condition)) ?? {
          hits: new Map(),
          falses: 0,
          frames: 0,
          ms: [],
        };
        score(tally, truths, found);
        tally.ms.push(ms);
        tallies.set(key(candidate.name, condition), tally);
      }
    }
    console.log(`scene ${k + 1}/${scenes.length} done`);
    await writeFile("/tmp/detector-study.raw.md", report(chosen, tallies, scenes.length));
  }
  const text = report(chosen, tallies, scenes.length);
  await writeFile("/tmp/detector-study.raw.md", text);
  console.log(text);
}

function report(candidates: Candidate[], tallies: Map<string, Tally>, scenes: number): string {
  const head = `| candidate | condition | ${WIDTHS.map((w) => `${w} px`).join(" | ")} | false / frame | median ms/frame |`;
  const lines = [`${scenes} scenes of 9 faces, 1920×1080`, "", head, `|${"---|".repeat(WIDTHS.length + 4)}`];
  for (const c of candidates)
    for (const condition of CONDITIONS) {
      const t = tallies.get(`${c.name}\t${condition}`);
      if (!t) continue;
      const cells = WIDTHS.map((w) => (t.hits.get(w) ?? [0, 0]).join("/"));
      lines.push(
        `| ${c.name} | ${condition} | ${cells.join(" | ")} | ${(t.falses / t.frames).toFixed(2)} | ${Math.round(median(t.ms))} |`,
      );
    }
  return `${lines.join("\n")}\n`;
}

runScript("detector-study", main);
