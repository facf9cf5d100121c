// The settings the code reads (found by scanning the source each run) against what the deployment
// sets: stack.yml, the images' ENV, the trigger's ConfigMap and Secret, credentials.env.example.
import { describe, expect, it } from "vitest";
import { loadRepo } from "./support/repo.js";
import { isRequired, type SettingRead, secretFiles } from "./support/scan.js";

const repo = loadRepo();

/** of-watchdog's options (its README): lower-case names in a function's environment are these. */
const WATCHDOG_OPTIONS = new Set([
  "fprocess",
  "function_process",
  "mode",
  "read_timeout",
  "write_timeout",
  "exec_timeout",
  "max_inflight",
  "prefix_logs",
  "log_buffer_size",
  "healthcheck_interval",
  "port",
  "content_type",
  "suppress_lock",
  "http_upstream_url",
  "upstream_url",
  "http_buffer_req_body",
  "buffer_http",
  "static_path",
  "ready_path",
]);

/** Variables for the runtime rather than for our code. */
const SYSTEM_ENV = new Set(["NODE_ENV", "TMPDIR", "PATH", "HOME", "NODE_OPTIONS"]);

const where = (reads: SettingRead[] | undefined) => (reads ?? []).map((r) => `${r.file}:${r.line}`).join(", ");
const upper = (names: string[]) => names.filter((n) => /^[A-Z]/.test(n));
// faas-cli substitutes ${VAR} and ${VAR:-default} in stack.yml (comments left out).
const stackCode = repo.stackText
  .split("\n")
  .filter((l) => !l.trim().startsWith("#"))
  .join("\n");
const stackVars = [...stackCode.matchAll(/\$\{([A-Z][A-Z0-9_]*)(?::-[^}]*)?\}/g)].map((m) => m[1] as string);

describe("the scan of the source", () => {
  it("finds the settings of the function and the trigger", () => {
    // If these fail, the scanner no longer understands lib/config.ts's readers: fix the scanner.
    expect(repo.functionReads.size).toBeGreaterThan(10);
    expect(repo.triggerReads.size).toBeGreaterThan(10);
    expect([...secretFiles(repo.functionReads).keys()].length).toBeGreaterThan(0);
    expect(repo.functionClosure.unresolved).toEqual([]);
    expect(repo.triggerClosure.unresolved).toEqual([]);
  });
});

describe("the function's settings (stack.yml, the image's ENV)", () => {
  const env = repo.env;
  const shipEnv = repo.functionShipEnv;

  it("sets every value as a string (OpenFaaS' environment is a string map)", () => {
    for (const [name, value] of Object.entries(env)) expect(typeof value, name).toBe("string");
  });

  it("sets only names the function's code reads, or the watchdog's options (no stale names)", () => {
    const stale = upper(Object.keys(env)).filter((n) => !repo.functionReads.has(n));
    expect(stale, "set in stack.yml but read by no code the function loads").toEqual([]);
    const unknown = Object.keys(env).filter((n) => /^[a-z]/.test(n) && !WATCHDOG_OPTIONS.has(n));
    expect(unknown, "not of-watchdog options").toEqual([]);
  });

  it("bakes into the image only names the code reads, the watchdog's, or the runtime's", () => {
    const stale = Object.keys(shipEnv).filter(
      (n) => !repo.functionReads.has(n) && !WATCHDOG_OPTIONS.has(n) && !SYSTEM_ENV.has(n),
    );
    expect(stale).toEqual([]);
  });

  it("gives every required setting a value (stack.yml, the image) or a secret", () => {
    const secrets = new Set(repo.fn.secrets ?? []);
    const missing = [...repo.functionReads]
      .filter(([, reads]) => isRequired(reads))
      .filter(([name, reads]) => {
        const file = reads.find((r) => r.secretFile)?.secretFile;
        return !(name in env) && !(name in shipEnv) && !(file && secrets.has(file));
      })
      .map(([name, reads]) => `${name} (${where(reads)})`);
    expect(missing).toEqual([]);
  });

  it("has every setting set, defaulted, or documented in credentials.env.example", () => {
    const missing = [...repo.functionReads]
      .filter(([name, reads]) => !(name in env) && !(name in shipEnv) && isRequired(reads) && !repo.example.has(name))
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });

  it("lists exactly the secret files the function reads", () => {
    const read = [...secretFiles(repo.functionReads).keys()].sort();
    expect([...(repo.fn.secrets ?? [])].sort()).toEqual(read);
  });

  it("puts no secret in the environment", () => {
    const secretNames = [...repo.functionReads].filter(([, r]) => r.some((x) => x.secretFile)).map(([n]) => n);
    for (const name of secretNames) {
      expect(env, `${name} must come from a secret file`).not.toHaveProperty(name);
      expect(shipEnv, `${name} must come from a secret file`).not.toHaveProperty(name);
    }
  });

  it("reads secrets from OpenFaaS' folder", () => {
    expect(env.SECRETS_DIR ?? shipEnv.SECRETS_DIR ?? "/var/openfaas/secrets").toBe("/var/openfaas/secrets");
  });
});

describe("the trigger's settings (ConfigMap, Secret, image)", () => {
  const cm = repo.configMap;
  const secret = repo.must("Secret", "facerec-trigger", "facerec");
  const secretKeys = Object.keys({ ...(secret.stringData ?? {}), ...(secret.data ?? {}) });
  const shipEnv = repo.triggerShipEnv;

  it("sets every ConfigMap value as a string", () => {
    for (const [name, value] of Object.entries(cm)) expect(typeof value, name).toBe("string");
  });

  it("sets only names the trigger's code reads (no stale names)", () => {
    const stale = Object.keys(cm).filter((n) => !repo.triggerReads.has(n));
    expect(stale, `not read by the code ${repo.triggerEntry} loads`).toEqual([]);
    const staleImage = Object.keys(shipEnv).filter((n) => !repo.triggerReads.has(n) && !SYSTEM_ENV.has(n));
    expect(staleImage).toEqual([]);
  });

  it("gives every required setting a value", () => {
    const missing = [...repo.triggerReads]
      .filter(([, reads]) => isRequired(reads))
      .filter(([name, reads]) => {
        const file = reads.find((r) => r.secretFile)?.secretFile;
        return !(name in cm) && !(name in shipEnv) && !(file && secretKeys.includes(file));
      })
      .map(([name, reads]) => `${name} (${where(reads)})`);
    expect(missing).toEqual([]);
  });

  it("has a Secret template with exactly the secret files the trigger reads", () => {
    expect([...secretKeys].sort()).toEqual([...secretFiles(repo.triggerReads).keys()].sort());
    for (const name of Object.keys(cm)) {
      const reads = repo.triggerReads.get(name) ?? [];
      expect(
        reads.some((r) => r.secretFile),
        `${name} is a secret: not in the ConfigMap`,
      ).toBe(false);
    }
  });

  it("mounts that Secret where SECRETS_DIR points", () => {
    const deployment = repo.must("Deployment", "facerec-trigger", "facerec");
    const pod = ((deployment.spec ?? {}) as { template: { spec: PodSpec } }).template.spec;
    const volume = pod.volumes.find((v) => v.secret?.secretName === secret.metadata?.name);
    expect(volume, "a volume from the Secret").toBeDefined();
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount?.mountPath).toBe(cm.SECRETS_DIR);
    const configMaps = pod.containers[0]?.envFrom?.map((e) => e.configMapRef?.name) ?? [];
    expect(configMaps).toEqual(["facerec-trigger"]);
    for (const name of configMaps) expect(repo.find("ConfigMap", name, "facerec"), name).toBeDefined();
  });

  it("shares its connection settings with the function", () => {
    for (const name of ["S3_ENDPOINT", "INPUT_BUCKET", "OUTPUT_BUCKET", "AWS_REGION"]) {
      expect(cm[name], name).toBe(repo.env[name]);
    }
    expect(cm.FUNCTION_NAME).toBe(repo.functionName);
  });
});

describe("credentials.env.example", () => {
  const example = repo.example;

  it("documents every setting the code reads (function, trigger, CLI, stack, tests)", () => {
    const missing = [...repo.allReads]
      .filter(([name]) => !example.has(name) && !SYSTEM_ENV.has(name))
      .map(([n, r]) => `${n} (${where(r)})`);
    expect(missing).toEqual([]);
  });

  it("documents the variables faas-cli substitutes in stack.yml", () => {
    expect(stackVars.filter((v) => !example.has(v))).toEqual([]);
  });

  it("documents nothing the code no longer reads", () => {
    const stale = [...example.keys()].filter((n) => !repo.allReads.has(n) && !stackVars.includes(n));
    expect(stale).toEqual([]);
  });

  it("explains every setting in a comment", () => {
    const bare = [...example.values()].filter((e) => e.doc.join(" ").trim().length < 10).map((e) => e.name);
    expect(bare).toEqual([]);
  });

  it("holds no real secret", () => {
    for (const entry of example.values()) {
      expect(entry.value, entry.name).not.toMatch(/\b(AKIA|ASIA)[0-9A-Z]{16}\b/);
      expect(entry.value, entry.name).not.toMatch(/[A-Za-z0-9/+]{40}/);
      const reads = repo.allReads.get(entry.name) ?? [];
      if (reads.some((r) => r.secretFile) && entry.value !== "") {
        expect(entry.value, `${entry.name} must be an obvious placeholder`).toMatch(/^replace-with-/);
      }
    }
  });

  it("names the secret file of every secret it documents", () => {
    const text = [...example.values()].map((e) => e.doc.join(" ")).join(" ");
    for (const [file] of secretFiles(repo.allReads)) expect(text, file).toContain(file);
  });
});

interface PodSpec {
  containers: {
    envFrom?: { configMapRef?: { name: string } }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes: { name: string; secret?: { secretName: string } }[];
}
