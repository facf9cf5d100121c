// The local stack's settings. Everything listens on 127.0.0.1; every port can be moved.
//
//   STACK_DIR               state: pids, logs, Ceph and dynalite data   (default <repo>/.stack)
//   STACK_ENV_FILE          the dotenv file of connection settings      (default <repo>/.stack.env,
//                           or <STACK_DIR>/stack.env when STACK_DIR is not the default)
//   STACK_SERVICES          what to run: ceph,dynamodb,function,trigger (default all four)
//   STACK_RGW_PORT          Ceph S3 endpoint (radosgw)                  (default 7480)
//   STACK_MON_PORT          Ceph mon, msgr2                             (default 3300)
//   STACK_MON_V1_PORT       Ceph mon, msgr1                             (default 6789)
//   STACK_MS_PORT_MIN/MAX   the range the Ceph OSD binds in             (default 6800-7300)
//   STACK_DYNAMODB_PORT     dynalite                                    (default 4567)
//   STACK_FUNCTION_PORT     the function server: OPENFAAS_URL           (default 8080)
//   STACK_TRIGGER_PORT      the trigger daemon (notifications, health)  (default 8090)
//   STACK_STUDENTS_FILE     student records    (default <data>/cse546/student_data.json)
//   STACK_GALLERY_PICKLE    the original encoding file to import (default <data>/cse546/encoding.pickle)
//   STACK_GALLERY_FILE      a ready gallery JSON: used as is, no import
//   FACEREC_DATA_DIR        the shared data folder <data>               (default <repo>/../shared/data)
//   INPUT_BUCKET, OUTPUT_BUCKET, STUDENTS_TABLE: as everywhere else (input, output, students).
import { join, resolve } from "node:path";
import { ConfigError, type Env, readSettings } from "../../lib/config.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const DEFAULT_STACK_DIR = join(REPO_ROOT, ".stack");
/** Where `npm run stack:up` writes the connection settings (the CLIs and the demo read it). */
export const STACK_ENV_FILE = join(REPO_ROOT, ".stack.env");

export const STACK_SERVICES = ["ceph", "dynamodb", "function", "trigger"] as const;
export type StackService = (typeof STACK_SERVICES)[number];

export interface StackPorts {
  rgw: number;
  monV2: number;
  monV1: number;
  msBindMin: number;
  msBindMax: number;
  dynamodb: number;
  function: number;
  trigger: number;
}

export const DEFAULT_STACK_PORTS: StackPorts = {
  rgw: 7480,
  monV2: 3300,
  monV1: 6789,
  msBindMin: 6800,
  msBindMax: 7300,
  dynamodb: 4567,
  function: 8080,
  trigger: 8090,
};

/**
 * Fixed, obviously fake credentials: the local RGW user is created with them and dynalite accepts
 * any. Never real keys, never AWS-looking (AKIA...).
 */
export const STACK_KEYS = {
  s3AccessKey: "local-stack-s3-access",
  s3SecretKey: "local-stack-s3-secret-not-a-real-key",
  dynamoAccessKey: "local-stack-dynamodb-access",
  dynamoSecretKey: "local-stack-dynamodb-secret-not-a-real-key",
} as const;

export const REGION = "us-east-1";
/** The gallery JSON is also put here, so GALLERY=s3://gallery/gallery.json works like in the cloud. */
export const GALLERY_BUCKET = "gallery";

export interface StackConfig {
  dir: string;
  envFile: string;
  services: StackService[];
  ports: StackPorts;
  inputBucket: string;
  outputBucket: string;
  studentsTable: string;
  studentsFile: string;
  /** The encoding.pickle imported into <dir>/gallery.json, unless galleryFile is given. */
  galleryPickle: string;
  galleryFile?: string;
}

/** Programmatic overrides (the demo, the e2e tests): they win over the environment. */
export type StackOptions = Partial<Omit<StackConfig, "ports">> & { ports?: Partial<StackPorts> };

export function readStackConfig(env: Env = process.env, options: StackOptions = {}): StackConfig {
  const fromEnv = readSettings(env, (read) => {
    const port = (name: string, fallback: number) => read.int(name, fallback, { min: 1, max: 65535 });
    const dataDir = read.string("FACEREC_DATA_DIR", resolve(REPO_ROOT, "../shared/data"));
    const services = read
      .string("STACK_SERVICES", STACK_SERVICES.join(","))
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    return {
      dir: read.optional("STACK_DIR"),
      envFile: read.optional("STACK_ENV_FILE"),
      services: services as StackService[],
      ports: {
        rgw: port("STACK_RGW_PORT", DEFAULT_STACK_PORTS.rgw),
        monV2: port("STACK_MON_PORT", DEFAULT_STACK_PORTS.monV2),
        monV1: port("STACK_MON_V1_PORT", DEFAULT_STACK_PORTS.monV1),
        msBindMin: port("STACK_MS_PORT_MIN", DEFAULT_STACK_PORTS.msBindMin),
        msBindMax: port("STACK_MS_PORT_MAX", DEFAULT_STACK_PORTS.msBindMax),
        dynamodb: port("STACK_DYNAMODB_PORT", DEFAULT_STACK_PORTS.dynamodb),
        function: port("STACK_FUNCTION_PORT", DEFAULT_STACK_PORTS.function),
        trigger: port("STACK_TRIGGER_PORT", DEFAULT_STACK_PORTS.trigger),
      },
      inputBucket: read.string("INPUT_BUCKET", "input"),
      outputBucket: read.string("OUTPUT_BUCKET", "output"),
      studentsTable: read.string("STUDENTS_TABLE", "students"),
      studentsFile: read.string("STACK_STUDENTS_FILE", join(dataDir, "cse546", "student_data.json")),
      galleryPickle: read.string("STACK_GALLERY_PICKLE", join(dataDir, "cse546", "encoding.pickle")),
      galleryFile: read.optional("STACK_GALLERY_FILE"),
    };
  });
  const unknown = fromEnv.services.filter((s) => !(STACK_SERVICES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new ConfigError([`STACK_SERVICES: unknown ${unknown.join(", ")} (choose from ${STACK_SERVICES.join(", ")})`]);
  }
  const dir = resolve(options.dir ?? fromEnv.dir ?? DEFAULT_STACK_DIR);
  // A stack in another dir (tests, a second stack) must not overwrite the developer's .stack.env.
  const envFile = resolve(
    options.envFile ?? fromEnv.envFile ?? (dir === DEFAULT_STACK_DIR ? STACK_ENV_FILE : join(dir, "stack.env")),
  );
  const galleryFile = options.galleryFile ?? fromEnv.galleryFile;
  const config: StackConfig = {
    ...fromEnv,
    ...options,
    dir,
    envFile,
    ports: { ...fromEnv.ports, ...options.ports },
    studentsFile: resolve(options.studentsFile ?? fromEnv.studentsFile),
    galleryPickle: resolve(options.galleryPickle ?? fromEnv.galleryPickle),
    galleryFile: galleryFile === undefined ? undefined : resolve(galleryFile),
  };
  const { ports } = config;
  if (ports.msBindMin > ports.msBindMax) throw new Error("STACK_MS_PORT_MIN must not be above STACK_MS_PORT_MAX");
  const fixed = [ports.rgw, ports.monV2, ports.monV1, ports.dynamodb, ports.function, ports.trigger];
  const clash = fixed.find((p, i) => fixed.indexOf(p) !== i || (p >= ports.msBindMin && p <= ports.msBindMax));
  if (clash !== undefined) throw new Error(`stack ports: ${clash} is used twice (or lies in the OSD's bind range)`);
  return config;
}

/** Paths inside the state dir. */
export function stackPaths(dir: string) {
  return {
    state: join(dir, "stack.json"),
    lock: join(dir, "lock"),
    ceph: join(dir, "ceph"),
    dynamodb: join(dir, "dynamodb"),
    gallery: join(dir, "gallery.json"),
    pidFile: (name: string) => join(dir, "run", `${name}.pid`),
    logFile: (name: string) => join(dir, "logs", `${name}.log`),
  };
}

export const endpoints = (ports: StackPorts) => ({
  s3: `http://127.0.0.1:${ports.rgw}`,
  dynamodb: `http://127.0.0.1:${ports.dynamodb}`,
  /** The gateway-style base URL: the function answers at <base>/function/face-recognition. */
  openfaas: `http://127.0.0.1:${ports.function}`,
  trigger: `http://127.0.0.1:${ports.trigger}`,
});

/** The connection settings, under the names every component reads (credentials.env.example). */
export function connectionEnv(config: StackConfig, gallery: string): Record<string, string> {
  const urls = endpoints(config.ports);
  return {
    S3_ENDPOINT: urls.s3,
    S3_AWS_ACCESS_KEY_ID: STACK_KEYS.s3AccessKey,
    S3_AWS_SECRET_ACCESS_KEY: STACK_KEYS.s3SecretKey,
    INPUT_BUCKET: config.inputBucket,
    OUTPUT_BUCKET: config.outputBucket,
    AWS_ACCESS_KEY_ID: STACK_KEYS.dynamoAccessKey,
    AWS_SECRET_ACCESS_KEY: STACK_KEYS.dynamoSecretKey,
    AWS_REGION: REGION,
    DYNAMODB_ENDPOINT: urls.dynamodb,
    STUDENTS_TABLE: config.studentsTable,
    OPENFAAS_URL: urls.openfaas,
    GALLERY: gallery,
  };
}

export const ENV_FILE_HEADER = "# Written by the local stack (scripts/stack): connection settings, fake local keys.";

export function renderEnvFile(env: Record<string, string>): string {
  const lines = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return `${ENV_FILE_HEADER}\n# Removed by \`npm run stack:down\`.\n${lines.join("\n")}\n`;
}
