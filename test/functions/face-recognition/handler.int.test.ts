// The handler's storage protocol against the real Ceph RGW: a request names the content it means
// (the upload's ETag); a replaced upload is "superseded", never analysed or reported as the old
// content, and a key's report is only ever written by a run of the content the key holds now.
// The analysis is a stand-in here (what is recognised does not matter): it is where another
// upload or another run's report lands while this run is busy.
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { type FunctionEvent, createHandler } from "../../../functions/face-recognition/handler.js";
import { S3VideoSource } from "../../../functions/face-recognition/pipeline/fetch-video.js";
import { S3Sink, toCsv } from "../../../functions/face-recognition/pipeline/report.js";
import { memoryLogger } from "../../../lib/log.js";
import { currentEtag, getText, type WriteCondition } from "../../../lib/s3.js";
import { videoResult } from "../../support/fixtures.js";
import { testS3Client } from "../../support/services.js";

const suffix = Date.now().toString(36);
const input = `handler-in-${suffix}`;
const output = `handler-out-${suffix}`;
const s3 = testS3Client();

const upload = async (key: string, body: string) =>
  (await s3.send(new PutObjectCommand({ Bucket: input, Key: key, Body: body }))).ETag?.replace(/"/g, "") as string;

/** The real sink, where another run writes the same report between our read of it and our write. */
class RacedSink extends S3Sink {
  races = 0;

  constructor(private readonly race: () => Promise<void>) {
    super(s3, output);
  }

  override async write(name: string, body: string, contentType: string, condition?: WriteCondition): Promise<void> {
    if (condition && this.races === 0) {
      this.races++;
      await this.race();
    }
    return super.write(name, body, contentType, condition);
  }
}

interface Run {
  /** What happens while the analysis is busy. */
  during?: () => Promise<void>;
  sink?: S3Sink;
}

/** Invokes a handler whose analysis names the file's content as the person seen. */
async function invoke(body: unknown, { during = async () => undefined, sink = new S3Sink(s3, output) }: Run = {}) {
  const handle = createHandler({
    source: new S3VideoSource(s3),
    sink,
    analyze: async (file, video) => {
      const { readFile } = await import("node:fs/promises");
      const content = await readFile(file, "utf8");
      await during();
      return videoResult(video, [content]);
    },
    inputBucket: input,
    maxVideoBytes: 1024,
    logger: memoryLogger("face-recognition"),
  });
  let status = 0;
  const context = {
    status(code: number) {
      status = code;
      return context;
    },
    headers: () => context,
    succeed: (value: unknown) => value,
    fail: (value: unknown) => value,
  };
  const event: FunctionEvent = { body, headers: {}, method: "POST", path: "/", query: {} };
  const answer = (await handle(event, context)) as { status: string; outputs?: string[] };
  return { status, answer };
}

describe("runs of a key whose upload changes", () => {
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: input }));
    await s3.send(new CreateBucketCommand({ Bucket: output }));
  });

  it("analyses only the content the request names: an older ETag is superseded, not failed", async () => {
    const old = await upload("a.mp4", "ada");
    const now = await upload("a.mp4", "grace");
    const stale = await invoke({ bucket: input, key: "a.mp4", etag: old });
    expect(stale).toMatchObject({ status: 409, answer: { status: "superseded" } });
    expect(await currentEtag(s3, output, "a.csv")).toBeUndefined();

    const current = await invoke({ bucket: input, key: "a.mp4", etag: now });
    expect(current).toMatchObject({ status: 200, answer: { status: "succeeded" } });
    expect(await getText(s3, output, "a.csv")).toBe(toCsv([{ name: "grace", major: "", year: "" }]));
  });

  it("writes nothing when a newer upload lands during the run, and leaves the newer run's report", async () => {
    const first = await upload("b.mp4", "ada");
    const run = await invoke(
      { bucket: input, key: "b.mp4", etag: first },
      {
        during: async () => {
          // Meanwhile: a new upload, and its own run's report.
          await upload("b.mp4", "grace");
          await new S3Sink(s3, output).write("b.csv", toCsv([{ name: "grace", major: "", year: "" }]), "text/csv");
        },
      },
    );
    expect(run).toMatchObject({ status: 409, answer: { status: "superseded" } });
    expect(await getText(s3, output, "b.csv")).toContain("grace");
  });

  it("loses no race on the report: a newer run's report written between our check and our write stays", async () => {
    const first = await upload("c.mp4", "ada");
    const sink = new RacedSink(async () => {
      await upload("c.mp4", "grace");
      await new S3Sink(s3, output).write("c.csv", toCsv([{ name: "grace", major: "", year: "" }]), "text/csv");
    });
    const run = await invoke({ bucket: input, key: "c.mp4", etag: first }, { sink });
    expect(sink.races).toBe(1);
    expect(run).toMatchObject({ status: 409, answer: { status: "superseded" } });
    expect(await getText(s3, output, "c.csv")).toContain("grace");
  });

  it("writes its report after a run of the same content wrote one between our check and our write", async () => {
    const etag = await upload("e.mp4", "ada");
    const sink = new RacedSink(() => new S3Sink(s3, output).write("e.csv", "name,major,year\r\n", "text/csv"));
    const run = await invoke({ bucket: input, key: "e.mp4", etag }, { sink });
    expect(sink.races).toBe(1);
    expect(run).toMatchObject({ status: 200, answer: { status: "succeeded" } });
    expect(await getText(s3, output, "e.csv")).toContain("ada");
  });

  it("accepts a request without an ETag (faas-cli invoke): the content there now", async () => {
    await upload("d.mp4", "ada");
    expect(await invoke({ bucket: input, key: "d.mp4" })).toMatchObject({ status: 200 });
    expect(await getText(s3, output, "d.csv")).toContain("ada");
  });
});
