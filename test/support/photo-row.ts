// The engine tests' 1080p frame: people's first photos pasted along a diagonal at the widths asked,
// still (the eval's scene generator draws it).
import { join } from "node:path";
import { readPhoto } from "../../scripts/eval/scene-video.js";
import type { Scene, SourcePhoto } from "../../scripts/eval/scenes.js";

export async function photoRowScene(
  data: string,
  people: { name: string; width: number }[],
  place: { x: number; y: number; dx: number; dy: number },
): Promise<Scene> {
  const photo = async (name: string): Promise<SourcePhoto> => ({
    name,
    file: name,
    image: await readPhoto(join(data, "people", name, "1.png")),
    // Where SSD puts the face in these 150×150 crops, near enough to set the face's width.
    face: { x: 12, y: 0, width: 128, height: 150 },
  });
  const sources = await Promise.all(people.map((p) => photo(p.name)));
  return {
    id: "classroom",
    case: "landscape",
    width: 1920,
    height: 1080,
    seed: 3,
    faces: sources.map((source, i) => ({
      source,
      width: people[i]?.width as number,
      x: place.x + place.dx * i,
      y: place.y + place.dy * i,
      vx: 0,
      vy: 0,
    })),
  };
}
