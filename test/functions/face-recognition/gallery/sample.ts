// A small valid gallery and an error catcher, shared by the gallery tests.
import type { Gallery } from "../../../../functions/face-recognition/gallery/format.js";
import { GalleryError } from "../../../../functions/face-recognition/gallery/format.js";
import { fakeDescriptor } from "../gallery-import/pickle-builder.js";

export const d = (seed: number): number[] => fakeDescriptor(seed);

export function sample(): Gallery {
  return {
    format: "facerec-gallery",
    version: 1,
    model: "dlib-resnet",
    note: "test",
    people: [
      { name: "ada", descriptors: [d(1), d(2)], sources: ["ada1.jpg", "ada2.jpg"] },
      { name: "bob", descriptors: [d(3)] },
    ],
  };
}

/** The GalleryError `fn` throws; anything else fails the test. */
export function galleryError(fn: () => unknown): GalleryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GalleryError) return err;
    throw err;
  }
  throw new Error("expected a GalleryError");
}
