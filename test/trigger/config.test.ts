import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config.js";
import { readTriggerSettings } from "../../trigger/config.js";

const minimal = { S3_AWS_ACCESS_KEY_ID: "k", S3_AWS_SECRET_ACCESS_KEY: "s", SECRETS_DIR: "/nonexistent" };

describe("readTriggerSettings", () => {
  it("has working defaults", () => {
    const s = readTriggerSettings(minimal);
    expect(s).toMatchObject({
      bucket: "input",
      openfaasUrl: "http://127.0.0.1:8080",
      functionName: "face-recognition",
      invokeMode: "sync",
      pollIntervalMs: 10_000,
      prefix: "",
      suffix: ".mp4",
      suffixCaseSensitive: false,
      jobsTable: "facerec-jobs",
      host: "127.0.0.1",
      port: 8090,
      concurrency: 4,
      invokeTimeoutMs: 300_000,
      claimTimeoutMs: 30_000,
      maxAttempts: 8,
      notify: { endpoint: "http://127.0.0.1:8090/notifications", persistent: false, topic: "facerec-videos" },
    });
    expect(s.functionToken).toBeUndefined();
    expect(s.callbackUrl).toBeUndefined(); // the daemon's own address, once it listens
  });

  it("reads every setting, in seconds where the name says so", () => {
    const s = readTriggerSettings({
      ...minimal,
      INPUT_BUCKET: "videos",
      OPENFAAS_URL: "http://gw:8080/",
      POLL_INTERVAL_SECONDS: "0.5",
      INVOKE_TIMEOUT_SECONDS: "10",
      CLAIM_TIMEOUT_SECONDS: "12",
      RETRY_BASE_SECONDS: "0.2",
      INVOKE_MODE: "async",
      CALLBACK_URL: "http://trigger.svc:8090",
      FUNCTION_TOKEN: "token-123456",
      TRIGGER_ID: "replica-a",
    });
    expect(s).toMatchObject({
      bucket: "videos",
      openfaasUrl: "http://gw:8080",
      pollIntervalMs: 500,
      invokeTimeoutMs: 10_000,
      claimTimeoutMs: 12_000,
      retryBaseMs: 200,
      invokeMode: "async",
      callbackUrl: "http://trigger.svc:8090",
      functionToken: "token-123456",
      replicaId: "replica-a",
    });
  });

  it("reports every problem at once", () => {
    try {
      readTriggerSettings({ ...minimal, INVOKE_MODE: "later", MAX_ATTEMPTS: "0", OPENFAAS_URL: "ftp://x" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toHaveLength(3);
    }
  });

  it("requires NOTIFY_TOKEN when the daemon listens beyond this machine", () => {
    expect(() => readTriggerSettings({ ...minimal, TRIGGER_HOST: "0.0.0.0" })).toThrow(/NOTIFY_TOKEN: is required/);
    const dir = mkdtempSync(join(tmpdir(), "trigger-secrets-"));
    try {
      // An empty secret file is no token: it must not open the endpoint.
      writeFileSync(join(dir, "notify-token"), "\n");
      expect(() => readTriggerSettings({ ...minimal, SECRETS_DIR: dir, TRIGGER_HOST: "10.0.0.7" })).toThrow(
        ConfigError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(readTriggerSettings({ ...minimal, TRIGGER_HOST: "0.0.0.0", NOTIFY_TOKEN: "push-token-1" }).notifyToken).toBe(
      "push-token-1",
    );
    for (const host of ["127.0.0.1", "localhost", "::1"]) {
      expect(readTriggerSettings({ ...minimal, TRIGGER_HOST: host }).notifyToken).toBeUndefined();
    }
  });

  it("reads the function token from the secrets directory before the environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "trigger-secrets-"));
    try {
      writeFileSync(join(dir, "function-token"), "from-the-file-123\n");
      const s = readTriggerSettings({ ...minimal, SECRETS_DIR: dir, FUNCTION_TOKEN: "from-the-env-456" });
      expect(s.functionToken).toBe("from-the-file-123");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
