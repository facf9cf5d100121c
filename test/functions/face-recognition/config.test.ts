import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFunctionConfig } from "../../../functions/face-recognition/config.js";

const minimal = {
  S3_AWS_ACCESS_KEY_ID: "k",
  S3_AWS_SECRET_ACCESS_KEY: "s",
  GALLERY: "gallery.json",
  SECRETS_DIR: "/nonexistent",
};

describe("the function's settings", () => {
  it("reads CALLBACK_HOSTS as lower-case host and host:port entries; unset, none", () => {
    expect(readFunctionConfig(minimal).callbackHosts).toEqual([]);
    const config = readFunctionConfig({ ...minimal, CALLBACK_HOSTS: " Trigger.Facerec:8090, 127.0.0.1 ,[::1]:8090," });
    expect(config.callbackHosts).toEqual(["trigger.facerec:8090", "127.0.0.1", "[::1]:8090"]);
    expect(config.maxCallbacks).toBe(16);
  });

  it("names CALLBACK_HOSTS when an entry is a URL or not a host", () => {
    expect(() => readFunctionConfig({ ...minimal, CALLBACK_HOSTS: "http://trigger:8090/cb,ok-host" })).toThrow(
      /CALLBACK_HOSTS: must list host or host:port entries.*"http:\/\/trigger:8090\/cb"/,
    );
    expect(() => readFunctionConfig({ ...minimal, MAX_CALLBACKS: "0" })).toThrow(/MAX_CALLBACKS: must be at least 1/);
  });

  it("refuses an empty function-token file instead of running without a token, and names it", () => {
    const dir = mkdtempSync(join(tmpdir(), "fn-secrets-"));
    writeFileSync(join(dir, "function-token"), " \n");
    expect(() => readFunctionConfig({ ...minimal, SECRETS_DIR: dir })).toThrow(
      /FUNCTION_TOKEN: secret file .*function-token is empty/,
    );
    // Not even the variable stands in for it: the file is what the deployment meant.
    expect(() => readFunctionConfig({ ...minimal, SECRETS_DIR: dir, FUNCTION_TOKEN: "env-token-1234" })).toThrow(
      /FUNCTION_TOKEN/,
    );
    writeFileSync(join(dir, "function-token"), "file-token-5678\n");
    expect(readFunctionConfig({ ...minimal, SECRETS_DIR: dir }).token).toBe("file-token-5678");
    expect(readFunctionConfig(minimal).token).toBeUndefined();
  });
});
