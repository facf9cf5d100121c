// Stage 3: frames → faces. @vladmandic/face-api (engine/) finds faces, their 68 landmarks and a
// 128-D descriptor: a first pass on the frame shrunk to the close-up case's width, then, unless
// that answers, the small-face search on the full frame (small-faces.ts). Tensors are disposed.
import type * as tfjs from "@tensorflow/tfjs-core";
import { loadBlazeFace } from "./engine/blazeface.js";
import { scaleBox } from "./engine/boxes.js";
import { loadNets, type NetName, startFaceApi } from "./engine/face-api.js";
import { shrink } from "./engine/images.js";
import type { SpeedupDecision, SpeedupSetting } from "./engine/speedups.js";
import type { BackendChoice, Box, DetectedFace, Detector, RgbImage } from "./engine/types.js";
import type { LocatedFace } from "./engine/types.js";
import {
  describeFaces,
  type Passes,
  SMALL_FACE_SEARCH,
  type SmallFaceSearch,
  searchSmallFaces,
  withTensor,
} from "./small-faces.js";

export type { BackendChoice, Box, DetectedFace, Detector, LocatedFace, RgbImage } from "./engine/types.js";

export interface DetectOptions {
  /** Whether the full-frame pass's faces already answer: the small-face search is then skipped. */
  enough?(faces: DetectedFace[]): boolean;
  /** The small-face search only around these boxes (SearchScope), not in the whole frame. */
  near?: Box[];
  /** false: a frame with no face is not looked at again at the second input size (enrollment pads instead). */
  retry?: boolean;
  /**
   * Search for small faces even beside a close-up: someone near the camera does not empty the back
   * rows (`all` mode). Else a close-up that BlazeFace confirms answers, as in the original.
   */
  besideCloseUps?: boolean;
}

/** The narrow interface the pipeline sees. */
export interface FaceEngine {
  readonly backend: string;
  readonly detector: Detector;
  /** Whether face-api runs with this project's speedups (engine/speedups.ts), and if not, why. */
  readonly speedups: SpeedupDecision;
  /** The small-face search, when on. */
  readonly smallFaces?: SmallFaceSearch;
  detect(image: RgbImage, options?: DetectOptions): Promise<DetectedFace[]>;
  /** The faces `detect` finds, not described: a track's face need not be described in every frame. */
  locate(image: RgbImage, options?: Pick<DetectOptions, "near" | "besideCloseUps">): Promise<LocatedFace[]>;
  /** These faces of `image` described, each on a crop where it is ~100 px wide (describeFaces). */
  describe(image: RgbImage, faces: LocatedFace[]): Promise<DetectedFace[]>;
  /** Live tensors in the engine: flat across frames when nothing leaks. */
  tensorCount(): number;
}

export interface EngineOptions {
  detector: Detector;
  backend: BackendChoice;
  /** Lowest detector score kept (detection stage). */
  minDetectionScore: number;
  /** Input size of the tiny detector (multiple of 32). */
  tinyInputSize: number;
  /**
   * A frame in which neither the full-frame pass nor the search finds a face: the full-frame pass
   * again with the tiny detector at this input size (0: never), which finds some close-ups the
   * first size misses.
   */
  tinySecondInputSize: number;
  /** The full-frame pass sees frames scaled down to this width (0: as they come). */
  detectWidth: number;
  /** The small-face search (small-faces.ts); undefined: off. */
  smallFaces?: SmallFaceSearch;
  speedups: SpeedupSetting;
}

const engines = new Map<string, Promise<FaceEngine>>();

/** Models load once per process; the first inference (slow: kernels compile) happens here. */
export function loadFaceEngine(options: EngineOptions): Promise<FaceEngine> {
  const key = JSON.stringify(options);
  let engine = engines.get(key);
  if (!engine) {
    engine = createEngine(options);
    engines.set(key, engine);
  }
  return engine;
}

async function createEngine(options: EngineOptions): Promise<FaceEngine> {
  const start = await startFaceApi(options.backend, options.speedups);
  const { faceapi, tf, speedups } = start;
  const nets: NetName[] = [
    options.detector === "ssd" ? "ssdMobilenetv1" : "tinyFaceDetector",
    "faceLandmark68Net",
    "faceRecognitionNet",
  ];
  // The small-face search runs the tiny detector whatever the full-frame pass's detector is.
  if (options.smallFaces && options.detector !== "tiny") nets.push("tinyFaceDetector");
  await loadNets(start, nets);
  const blazeFace = options.smallFaces?.detector === "blazeface" ? await loadBlazeFace(tf) : undefined;

  const tinyOptions = (inputSize: number) =>
    new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: options.minDetectionScore });
  const detectorOptions =
    options.detector === "ssd"
      ? new faceapi.SsdMobilenetv1Options({ minConfidence: options.minDetectionScore, maxResults: 50 })
      : tinyOptions(options.tinyInputSize);
  const secondOptions = options.tinySecondInputSize > 0 ? tinyOptions(options.tinySecondInputSize) : undefined;

  const toTensor = (image: RgbImage) =>
    tf.tensor3d(
      new Uint8Array(image.rgb.buffer, image.rgb.byteOffset, image.rgb.byteLength),
      [image.height, image.width, 3],
      "int32",
    );
  /** Detection, 68 landmarks and descriptor of every face in `input`, boxes in its own pixels. */
  const analyse = async (input: tfjs.Tensor3D, options: object = detectorOptions): Promise<DetectedFace[]> => {
    const results = await faceapi.detectAllFaces(input, options).withFaceLandmarks().withFaceDescriptors();
    return results.map((r) => ({ box: plainBox(r.detection.box), score: r.detection.score, descriptor: r.descriptor }));
  };
  /** face-api's landmark and descriptor steps on detections handed to it, not found by its detector. */
  const describeAt = async (input: tfjs.Tensor3D, boxes: Box[]) => {
    const [height, width] = input.shape;
    const detections = boxes.map((b) => ({
      detection: new faceapi.FaceDetection(
        1,
        new faceapi.Rect(b.x / width, b.y / height, b.width / width, b.height / height),
        {
          width,
          height,
        },
      ),
    }));
    const results = await new faceapi.DetectAllFaceLandmarksTask(
      Promise.resolve(detections),
      input,
      false,
    ).withFaceDescriptors();
    return results.map((r) => r.descriptor);
  };
  /** Detection alone, with these detector options. */
  const locateWith = async (input: tfjs.Tensor3D, passOptions: object): Promise<LocatedFace[]> =>
    (await faceapi.detectAllFaces(input, passOptions)).map((d) => ({ box: plainBox(d.box), score: d.score }));
  const passes: Passes = {
    tf,
    locate: (input: tfjs.Tensor3D, inputSize: number) => locateWith(input, tinyOptions(inputSize)),
    describeAt,
    blazeFace,
    toTensor,
  };

  /**
   * The full-frame pass (`firstPass`: detection alone, or with descriptors), then (unless it
   * answers) the small-face search, then the second look. The search's faces are not described.
   */
  async function findFaces<F extends LocatedFace>(
    image: RgbImage,
    detectOptions: (Omit<DetectOptions, "enough"> & { enough?(faces: F[]): boolean }) | undefined,
    firstPass: (input: tfjs.Tensor3D, passOptions: object) => Promise<F[]>,
  ): Promise<{ faces: F[]; searched: LocatedFace[] }> {
    // The full-frame pass at the width the close-up case was tuned for: its cost and its faces do
    // not depend on how large the frame was decoded. Shrunk here, before any tensor: a 1080p
    // frame as an int32 tensor is 25 MB of fresh memory, and page faults are dear.
    const small =
      options.detectWidth > 0 && image.width > options.detectWidth ? shrink(image, options.detectWidth) : image;
    const factor = image.width / small.width;
    const fullFrame = (passOptions: object) =>
      withTensor(toTensor(small), async (input) =>
        (await firstPass(input, passOptions)).map((f) => (factor === 1 ? f : { ...f, box: scaleBox(f.box, factor) })),
      );
    const faces = await fullFrame(detectorOptions);
    const search = options.smallFaces;
    const near = detectOptions?.near;
    let searched: LocatedFace[] = [];
    if (search && near?.length !== 0 && !detectOptions?.enough?.(faces)) {
      const scope = { near, besideCloseUps: detectOptions?.besideCloseUps };
      searched = await searchSmallFaces(passes, image, faces, search, scope);
    }
    if (faces.length + searched.length > 0 || !secondOptions || detectOptions?.retry === false)
      return { faces, searched };
    // Close-ups only: a smaller face is the search's, which looks for it on crops where it is larger.
    const closeUp = (search ?? SMALL_FACE_SEARCH).closeUpShare * Math.min(image.width, image.height);
    return { faces: (await fullFrame(secondOptions)).filter((f) => f.box.width >= closeUp), searched };
  }
  const describe = (image: RgbImage, faces: LocatedFace[]) => describeFaces(passes, image, faces);

  const engine: FaceEngine = {
    backend: tf.getBackend(),
    detector: options.detector,
    speedups,
    smallFaces: options.smallFaces,
    async detect(image, detectOptions) {
      const { faces, searched } = await findFaces(image, detectOptions, analyse);
      return searched.length === 0 ? faces : [...faces, ...(await describe(image, searched))];
    },
    async locate(image, locateOptions) {
      const { faces, searched } = await findFaces(image, locateOptions, locateWith);
      return [...faces, ...searched];
    },
    describe,
    tensorCount: () => tf.memory().numTensors,
  };
  // Warm-up: compiles the kernels so the first real video is not slowed by it.
  await engine.detect({ width: 64, height: 64, rgb: Buffer.alloc(64 * 64 * 3, 128) });
  return engine;
}

/** face-api's boxes keep their coordinates behind getters: a plain copy. */
function plainBox(box: Box): Box {
  return { x: box.x, y: box.y, width: box.width, height: box.height };
}
