// The classroom scenes composed for the eval: the people split by person (classroom-split.ts), the
// photos' faces located, the backgrounds made, and every part's scenes written to the work folder.
import type { RecognitionSettings } from "../../functions/face-recognition/config.js";
import type { RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { type Backdrop, makeBackdrops } from "./backgrounds.js";
import {
  CLASSROOM_SEED,
  type ClassroomSplit,
  listClassroom,
  planClassroom,
  SCENES_PER_PART,
  type SplitPart,
  settleGalleries,
  splitClassroom,
} from "./classroom-split.js";
import { locatePhoto, photoDetector, writeScene } from "./scene-video.js";
import type { SceneVideo, SourcePhoto } from "./scenes.js";

export interface Classroom {
  split: ClassroomSplit;
  backdrops: Backdrop[];
  tuning: SceneVideo[];
  test: SceneVideo[];
  /** Wall time to make the backgrounds and compose and encode the scenes. */
  composeMs: number;
}

/** Every part's scenes (`scenes` per part), written to `work`. */
export async function composeClassroom(
  data: string,
  work: string,
  settings: Pick<RecognitionSettings, "backend" | "speedups">,
  options: {
    scenes?: number;
    seed?: number;
    /** Enrolls a gallery photo, false when it cannot (settleGalleries); none: the split as drawn. */
    enrolls?: (name: string, file: string) => Promise<boolean>;
    /** Another detector a background must show no face to (the eval's engine), beside SSD. */
    detect?: (image: RgbImage) => Promise<unknown[]>;
  } = {},
): Promise<Classroom> {
  const started = performance.now();
  const seed = options.seed ?? CLASSROOM_SEED;
  const listed = await listClassroom(data);
  const drawn = splitClassroom(listed.people, listed.strangers, seed);
  const split = options.enrolls ? await settleGalleries(drawn, options.enrolls) : drawn;
  const detect = await photoDetector(settings);
  const photos = new Map<string, SourcePhoto>();
  // A photo whose face SSD cannot find is not shown (it would have no ground truth).
  const locate = async (name: string | null, file: string) => {
    try {
      photos.set(file, await locatePhoto(name, file, detect));
      return true;
    } catch (err) {
      console.log(`not shown: ${(err as Error).message}`);
      return false;
    }
  };
  for (const part of [split.tuning, split.test]) {
    for (const person of part.people) {
      const shown = [];
      for (const file of person.scene) if (await locate(person.name, file)) shown.push(file);
      person.scene = shown;
    }
    part.strangers = (
      await Promise.all(part.strangers.map(async (file) => ((await locate(null, file)) ? file : "")))
    ).filter(Boolean);
  }
  // Backgrounds are checked with SSD at a low score, and with the engine measured.
  const doubtful = await photoDetector(settings, 0.2);
  const backdrops = await makeBackdrops(data, work, async (image) => [
    ...(await doubtful(image)),
    ...((await options.detect?.(image)) ?? []),
  ]);
  const write = async (part: SplitPart, offset: number) => {
    const plans = planClassroom(part, photos, {
      scenes: options.scenes ?? SCENES_PER_PART,
      seed,
      // The parts start at different backgrounds; all kinds come round within a part's scenes.
      backdrop: (k, portrait) => {
        const b = backdrops[(k + offset) % backdrops.length];
        return b && { file: portrait ? b.portrait : b.landscape, kind: `${b.kind} (${b.name})` };
      },
    });
    const videos: SceneVideo[] = [];
    for (const plan of plans) videos.push(await writeScene(plan, work));
    return videos;
  };
  const tuning = await write(split.tuning, 0);
  const test = await write(split.test, 4);
  return { split, backdrops, tuning, test, composeMs: performance.now() - started };
}
