import { defineConfig } from "vitest/config";

// unit: pure logic and local tools (ffmpeg, the models), no services.
// integration: *.int.test.ts and test/e2e — real Ceph RGW and dynalite, started once per run.
// stock: the recognition tests again, on stock face-api (FACE_SPEEDUPS=off): both paths must pass.
const integration = ["test/**/*.int.test.ts", "test/e2e/**/*.test.ts"];
const recognition = [
  "test/functions/face-recognition/recognition.test.ts",
  "test/functions/face-recognition/cli.test.ts",
  "test/functions/face-recognition/pipeline/small-faces.test.ts",
  "test/functions/face-recognition/pipeline/faces.test.ts",
];

export default defineConfig({
  test: {
    pool: "forks",
    // Tests run the sources: processes they fork from them (the ffmpeg host) need the TypeScript loader.
    execArgv: ["--import", "tsx"],
    // Real processes (Ceph, dynalite, ffmpeg, the models) on 2 cores.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: integration } },
      { extends: true, test: { name: "stock", include: recognition, env: { FACE_SPEEDUPS: "off" } } },
      {
        extends: true,
        test: { name: "integration", include: integration, globalSetup: ["test/support/global-setup.ts"] },
      },
    ],
  },
});
