// The deployment files, loaded once per test file, with lookups by kind and name.
import {
  exists,
  importClosure,
  type K8sObject,
  loadManifests,
  loadYaml,
  parseDockerfile,
  parseEnvExample,
  read,
  ROOT,
  settingsByName,
  sourceFiles,
  stageEnv,
} from "./scan.js";

export const FUNCTION_DOCKERFILE = "functions/face-recognition/Dockerfile";
export const TRIGGER_DOCKERFILE = "trigger/Dockerfile";
export const FUNCTION_ENTRY = "functions/face-recognition/index.ts";
export const TRIGGER_ENTRY = "trigger/cli.ts";
export const TRIGGER_K8S = [
  "trigger/k8s/namespace.yaml",
  "trigger/k8s/configmap.yaml",
  "trigger/k8s/secret.template.yaml",
  "trigger/k8s/deployment.yaml",
  "trigger/k8s/service.yaml",
  "trigger/k8s/pdb.yaml",
];
export const CEPH = [
  "ceph/cluster-test.yaml",
  "ceph/object-test.yaml",
  "ceph/notification.yaml",
  "ceph/rgw-external.yaml",
  "ceph/toolbox.yaml",
];
/** Everywhere the code that runs somewhere lives (the function, the trigger, the CLI, the stack, the tests' services). */
export const CODE_DIRS = ["lib", "functions", "trigger", "scripts", "ceph", "bin", "test/support"];

const ROOT_PREFIX = `${ROOT}/`;

export interface StackFunction {
  lang?: string;
  handler?: string;
  image?: string;
  namespace?: string;
  readonly_root_filesystem?: boolean;
  environment?: Record<string, unknown>;
  secrets?: string[];
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  limits?: { memory?: string; cpu?: string };
  requests?: { memory?: string; cpu?: string };
}

export interface Stack {
  version?: unknown;
  provider?: { name?: string; gateway?: string };
  configuration?: { templates?: { name: string }[]; copy?: string[] };
  functions?: Record<string, StackFunction>;
}

export function loadRepo() {
  const stackText = read("stack.yml");
  const stack = loadYaml("stack.yml")[0] as Stack;
  const functionName = Object.keys(stack.functions ?? {})[0] as string;
  const fn = stack.functions?.[functionName] as StackFunction;
  const k8s = TRIGGER_K8S.flatMap((file) => loadManifests(file).map((doc) => ({ ...doc, file })));
  const ceph = CEPH.flatMap((file) => loadManifests(file).map((doc) => ({ ...doc, file })));
  const all = [...k8s, ...ceph];
  const find = (kind: string, name?: string, namespace?: string): (K8sObject & { file: string }) | undefined =>
    all.find(
      (d) =>
        d.kind === kind &&
        (name === undefined || d.metadata?.name === name) &&
        (namespace === undefined || d.metadata?.namespace === namespace),
    );
  const must = (kind: string, name?: string, namespace?: string) => {
    const doc = find(kind, name, namespace);
    if (!doc) throw new Error(`no ${kind}${name ? ` ${name}` : ""}${namespace ? ` in ${namespace}` : ""}`);
    return doc;
  };
  const functionDockerfile = parseDockerfile(read(FUNCTION_DOCKERFILE));
  const triggerDockerfile = parseDockerfile(read(TRIGGER_DOCKERFILE));
  const ship = (d: typeof functionDockerfile) => d.stages.at(-1) as (typeof d.stages)[number];
  const configMap = must("ConfigMap", "facerec-trigger").data as Record<string, unknown>;
  const triggerEntry = exists(TRIGGER_ENTRY) ? TRIGGER_ENTRY : "trigger/config.ts";
  const functionClosure = importClosure([FUNCTION_ENTRY]);
  const triggerClosure = importClosure([triggerEntry]);
  const abs = (files: string[]) => files.map((f) => `${ROOT_PREFIX}${f}`);
  return {
    stack,
    stackText,
    functionName,
    fn,
    env: (fn.environment ?? {}) as Record<string, unknown>,
    k8s,
    ceph,
    all,
    find,
    must,
    configMap,
    functionDockerfile,
    triggerDockerfile,
    functionShipEnv: stageEnv(ship(functionDockerfile), functionDockerfile.args),
    triggerShipEnv: stageEnv(ship(triggerDockerfile), triggerDockerfile.args),
    ship,
    functionClosure,
    triggerClosure,
    triggerEntry,
    /** Settings read by the code the function's process loads. */
    functionReads: settingsByName(abs(functionClosure.files)),
    /** Settings read by the code the trigger's process loads. */
    triggerReads: settingsByName(abs(triggerClosure.files)),
    /** Settings read anywhere (function, trigger, CLI, scripts, the local stack, test services). */
    allReads: settingsByName(sourceFiles(CODE_DIRS)),
    example: parseEnvExample(read("credentials.env.example")),
    deploymentDoc: read("docs/deployment.md"),
  };
}

export type Repo = ReturnType<typeof loadRepo>;
