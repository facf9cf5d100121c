import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  connectionEnv,
  DEFAULT_STACK_DIR,
  DEFAULT_STACK_PORTS,
  readStackConfig,
  STACK_ENV_FILE,
} from "../../../scripts/stack/config.js";
import { scriptCommand } from "../../../scripts/stack/services.js";

describe("readStackConfig", () => {
  it("defaults to .stack, .stack.env, every service and the default ports", () => {
    const config = readStackConfig({});
    expect(config).toMatchObject({ dir: DEFAULT_STACK_DIR, envFile: STACK_ENV_FILE, ports: DEFAULT_STACK_PORTS });
    expect(config.services).toEqual(["ceph", "dynamodb", "function", "trigger"]);
  });

  it("reads STACK_* and keeps the env file of another dir inside it", () => {
    const config = readStackConfig({ STACK_DIR: "/tmp/x", STACK_RGW_PORT: "17480", STACK_SERVICES: "ceph" });
    expect(config).toMatchObject({ dir: "/tmp/x", envFile: join("/tmp/x", "stack.env"), services: ["ceph"] });
    expect(config.ports.rgw).toBe(17480);
  });

  it("lets programmatic options win", () => {
    const config = readStackConfig({ STACK_RGW_PORT: "17480" }, { ports: { rgw: 27480 }, inputBucket: "in" });
    expect(config.ports.rgw).toBe(27480);
    expect(config.inputBucket).toBe("in");
  });

  it("rejects unknown services, bad and clashing ports", () => {
    expect(() => readStackConfig({ STACK_SERVICES: "ceph,mysql" })).toThrow(/STACK_SERVICES/);
    expect(() => readStackConfig({ STACK_RGW_PORT: "http" })).toThrow(/STACK_RGW_PORT/);
    expect(() => readStackConfig({ STACK_FUNCTION_PORT: "7480" })).toThrow(/7480/);
    expect(() => readStackConfig({ STACK_DYNAMODB_PORT: "6900" })).toThrow(/bind range/);
  });
});

describe("connectionEnv", () => {
  it("uses exactly the team's names, with fake keys", () => {
    const env = connectionEnv(readStackConfig({}), "/g.json");
    expect(Object.keys(env).sort()).toEqual(
      [
        "S3_ENDPOINT",
        "S3_AWS_ACCESS_KEY_ID",
        "S3_AWS_SECRET_ACCESS_KEY",
        "INPUT_BUCKET",
        "OUTPUT_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "DYNAMODB_ENDPOINT",
        "STUDENTS_TABLE",
        "OPENFAAS_URL",
        "GALLERY",
      ].sort(),
    );
    expect(Object.values(env).join(" ")).not.toMatch(/AKIA|ASIA/);
    expect(env.OPENFAAS_URL).toBe("http://127.0.0.1:8080");
  });
});

describe("scriptCommand", () => {
  it("runs a plain tsx script as one node process", () => {
    expect(scriptCommand("facerec", ["gallery", "import"])).toEqual({
      command: process.execPath,
      args: ["--import", "tsx", "functions/face-recognition/cli.ts", "gallery", "import"],
    });
  });

  it("runs a plain node script (a bundle) as that node process", () => {
    expect(scriptCommand("trigger", ["run"])).toEqual({ command: process.execPath, args: ["dist/trigger.mjs", "run"] });
  });

  it("goes through npm for anything else", () => {
    expect(scriptCommand("stack:up", [])).toEqual({ command: "npm", args: ["run", "--silent", "stack:up", "--"] });
  });
});
