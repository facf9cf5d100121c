import { describe, expect, it } from "vitest";
import { createKeyFilter } from "../../trigger/keys.js";

describe("createKeyFilter", () => {
  it("matches the suffix without regard to case by default", () => {
    const isVideo = createKeyFilter({ suffix: ".mp4" });
    expect(isVideo("a.mp4")).toBe(true);
    expect(isVideo("dir/B.MP4")).toBe(true);
    expect(isVideo("a.Mp4")).toBe(true);
    expect(isVideo("a.mp4.csv")).toBe(false);
    expect(isVideo("a.mov")).toBe(false);
  });

  it("can compare the suffix exactly", () => {
    const isVideo = createKeyFilter({ suffix: ".mp4", suffixCaseSensitive: true });
    expect(isVideo("a.mp4")).toBe(true);
    expect(isVideo("a.MP4")).toBe(false);
  });

  it("keeps only keys under the prefix (which is case-sensitive, like S3's)", () => {
    const isVideo = createKeyFilter({ prefix: "videos/", suffix: ".mp4" });
    expect(isVideo("videos/a.mp4")).toBe(true);
    expect(isVideo("videos/sub/a.mp4")).toBe(true);
    expect(isVideo("Videos/a.mp4")).toBe(false);
    expect(isVideo("other/a.mp4")).toBe(false);
  });

  it("never takes folder markers or empty keys", () => {
    const any = createKeyFilter({ suffix: "" });
    expect(any("x")).toBe(true);
    expect(any("folder/")).toBe(false);
    expect(any("")).toBe(false);
  });

  it("keeps keys with spaces, plus signs, percent signs and non-ASCII as they are", () => {
    const isVideo = createKeyFilter({ suffix: ".mp4" });
    for (const key of ["clip 01.mp4", "a+b.mp4", "100%.mp4", "ü/ß.MP4"]) expect(isVideo(key)).toBe(true);
  });
});
