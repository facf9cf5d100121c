import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { ConfigError, listSetting, numberSetting, readSettings } from "../../lib/config.js";
import { redact } from "../../lib/log.js";

describe("readSettings", () => {
  it("returns typed values with defaults", () => {
    const settings = readSettings({ PORT: "8081", DEBUG: "yes" }, (read) => ({
      port: read.int("PORT", 3000),
      workers: read.int("WORKERS", 2),
      debug: read.bool("DEBUG", false),
    }));
    expect(settings).toEqual({ port: 8081, workers: 2, debug: true });
  });

  it("names every wrong or missing setting at once", () => {
    const attempt = () =>
      readSettings({ PORT: "eighty", MODE: "sometimes", URL: "ftp://x" }, (read) => ({
        port: read.int("PORT", 3000),
        mode: read.oneOf("MODE", ["all", "first"] as const, "all"),
        url: read.url("URL"),
        gallery: read.string("GALLERY"),
      }));
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const problems = (err as ConfigError).problems.join("\n");
      expect(problems).toContain('PORT: must be a whole number, got "eighty"');
      expect(problems).toContain("MODE: must be one of all, first");
      expect(problems).toContain("URL: must be an http(s) URL");
      expect(problems).toContain("GALLERY: is required");
    }
  });

  it("prefers the secret file to the environment, and masks the value in logs", () => {
    const dir = mkdtempSync(join(tmpdir(), "secrets-"));
    writeFileSync(join(dir, "function-token"), "file-token-value-123\n");
    const token = readSettings({ SECRETS_DIR: dir, FUNCTION_TOKEN: "env-token-value" }, (read) =>
      read.secret("FUNCTION_TOKEN", "function-token"),
    );
    expect(token).toBe("file-token-value-123");
    expect(redact("auth failed for file-token-value-123")).toBe("auth failed for [redacted]");
  });

  it("reports a missing required secret without a value in the message", () => {
    expect(() =>
      readSettings({ SECRETS_DIR: "/nonexistent" }, (read) =>
        read.secret("S3_AWS_SECRET_ACCESS_KEY", "s3-secret-access-key"),
      ),
    ).toThrow(/S3_AWS_SECRET_ACCESS_KEY: is required/);
  });

  it("reads yes/no words as booleans, in any case, and names any other word", () => {
    const flags = readSettings({ A: "YES", B: "off", C: "1", D: "False" }, (read) =>
      ["A", "B", "C", "D", "E"].map((name) => read.bool(name, true)),
    );
    expect(flags).toEqual([true, false, true, false, true]);
    expect(() => readSettings({ A: "maybe" }, (read) => read.bool("A", false))).toThrow(
      'A: must be true or false, got "maybe"',
    );
  });

  it("reads an optional setting through a schema: unset or empty is undefined, a wrong value is named", () => {
    const threshold = (env: Record<string, string>) =>
      readSettings(env, (read) => read.optional("MATCH_THRESHOLD", numberSetting({ min: 0, max: 2 })));
    expect(threshold({})).toBeUndefined();
    expect(threshold({ MATCH_THRESHOLD: "  " })).toBeUndefined();
    expect(threshold({ MATCH_THRESHOLD: " 0.55 " })).toBe(0.55);
    expect(() => threshold({ MATCH_THRESHOLD: "3" })).toThrow("MATCH_THRESHOLD: must be at most 2");
    expect(() => threshold({ MATCH_THRESHOLD: "half" })).toThrow('MATCH_THRESHOLD: must be a number, got "half"');
  });

  it("checks a URL's fallback too (it may be built from other settings), and trims trailing slashes", () => {
    const urls = readSettings({ A: "http://gateway:8080//" }, (read) => [read.url("A"), read.url("B", "https://b/")]);
    expect(urls).toEqual(["http://gateway:8080", "https://b"]);
    expect(() => readSettings({}, (read) => read.url("NOTIFY_ENDPOINT", "http://bad host:80/x"))).toThrow(
      "NOTIFY_ENDPOINT: must be an http(s) URL",
    );
  });

  it("reads a comma-separated list, naming every wrong entry", () => {
    const ports = listSetting(z.string().check(z.regex(/^\d+$/)), "port numbers");
    expect(readSettings({ PORTS: " 80, 443 ,," }, (read) => read.optional("PORTS", ports))).toEqual(["80", "443"]);
    expect(() => readSettings({ PORTS: "80,http,x" }, (read) => read.optional("PORTS", ports))).toThrow(
      'PORTS: must list port numbers; got "http", "x"',
    );
  });
});
