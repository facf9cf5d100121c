import { describe, expect, it } from "vitest";
import { createLogger, describeError, memoryLogger, registerSecret } from "../../lib/log.js";

describe("logger", () => {
  it("writes one JSON object per line with the bound request id and video key", () => {
    const log = memoryLogger("fn");
    log.child({ requestId: "r1" }).child({ videoKey: "a.mp4" }).info("video started", { bucket: "input" });
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({
      level: "info",
      service: "fn",
      msg: "video started",
      requestId: "r1",
      videoKey: "a.mp4",
      bucket: "input",
    });
  });

  it("masks registered secrets anywhere in a line, including error messages", () => {
    registerSecret("s3cr3t-value-for-log-test");
    const log = memoryLogger();
    log.error("failed", describeError(new Error("signature mismatch for s3cr3t-value-for-log-test")));
    expect(JSON.stringify(log.lines)).not.toContain("s3cr3t-value-for-log-test");
    expect(log.lines[0]?.error).toBe("signature mismatch for [redacted]");
  });

  it("masks a secret holding a quote or a backslash, which JSON escapes in the line", () => {
    const secret = 'k3y"with\\back\\slash-and-quote';
    registerSecret(secret);
    const lines: string[] = [];
    const log = createLogger("fn", { write: (line) => lines.push(line) });
    log.warn("callback failed", { url: `http://x/?token=${secret}`, error: `bad ${secret}` });
    const written = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(written).toMatchObject({ url: "http://x/?token=[redacted]", error: "bad [redacted]" });
    expect(lines[0]).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(JSON.stringify(written)).not.toContain("slash-and-quote");
  });
});
