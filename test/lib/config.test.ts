import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, readSettings } from "../../lib/config.js";
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
});
