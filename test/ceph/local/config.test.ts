import { describe, expect, it } from "vitest";
import { makeCephKey, renderCephConf, renderKeyring } from "../../../ceph/local/config.js";

describe("ceph config", () => {
  it("makes cephx keys in Ceph's own encoding", () => {
    const key = Buffer.from(makeCephKey(new Date(1_700_000_000_123)), "base64");
    expect(key.length).toBe(28);
    expect(key.readUInt16LE(0)).toBe(1); // AES
    expect(key.readUInt32LE(2)).toBe(1_700_000_000);
    expect(key.readUInt32LE(6)).toBe(123_000_000);
    expect(key.readUInt16LE(10)).toBe(16);
    expect(makeCephKey()).not.toBe(makeCephKey());
  });

  it("writes a keyring with every entity and a final newline", () => {
    const keyring = renderKeyring();
    for (const name of ["[mon.]", "[client.admin]", "[osd.0]", "[client.rgw.a]"]) expect(keyring).toContain(name);
    expect(keyring.endsWith("\n")).toBe(true);
  });

  it("puts every port and path in the conf", () => {
    const conf = renderCephConf({
      dataDir: "/d",
      fsid: "f",
      ports: { monV2: 1, monV1: 2, rgw: 3, msBindMin: 4, msBindMax: 5 },
      memstoreBytes: 1024,
    });
    expect(conf).toContain("mon host = [v2:127.0.0.1:1,v1:127.0.0.1:2]");
    expect(conf).toContain("rgw frontends = beast endpoint=127.0.0.1:3");
    expect(conf).toContain("ms bind port min = 4\nms bind port max = 5");
    expect(conf).toContain("paxos propose interval = 0.1");
    expect(conf).toContain("auth cluster required = cephx");
    // Nothing outside the data dir.
    const paths = conf.match(/= (\/\S+)/g) ?? [];
    for (const path of paths) expect(path.slice(2)).toMatch(/^\/d\//);
  });
});
