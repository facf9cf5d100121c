// The push path from Ceph to the trigger in the cluster: the topic's URI carries the notify token
// as the trigger's server checks it, and the deployment guide fills it in and creates the Secret
// with a real token.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../../lib/log.js";
import { close, createEndpoints, listen } from "../../../trigger/server.js";
import { loadManifests } from "../../deploy/support/scan.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const topic = loadManifests("ceph/notification.yaml").find((d) => d.kind === "CephBucketTopic");
const uri = new URL((topic?.spec as { endpoint?: { http?: { uri?: string } } } | undefined)?.endpoint?.http?.uri ?? "");
const secret = loadManifests("trigger/k8s/secret.template.yaml").find((d) => d.kind === "Secret");
const guide = readFileSync(resolve(ROOT, "docs/deployment.md"), "utf8");
const PLACEHOLDER = "REPLACE_WITH_NOTIFY_TOKEN";

describe("ceph/notification.yaml's push endpoint", () => {
  it("carries the notify token in the query, as a placeholder the guide replaces", () => {
    expect(uri.searchParams.get("token")).toBe(PLACEHOLDER);
    expect((secret?.stringData as Record<string, string> | undefined)?.["notify-token"]).toBe(PLACEHOLDER);
    expect(guide).toContain(`sed "s/${PLACEHOLDER}/$NOTIFY_TOKEN/" ceph/notification.yaml | kubectl apply -f -`);
    expect(guide).toContain('--from-literal=notify-token="$NOTIFY_TOKEN"');
    expect(guide).not.toMatch(/--from-literal=notify-token=(\s|$)/);
  });

  describe("against the trigger's own endpoint", () => {
    const token = "0f".repeat(32); // as `openssl rand -hex 32` makes it
    const server = createEndpoints(
      {
        healthy: () => true,
        metrics: async () => "",
        notified: () => {},
        callback: async () => ({ status: 500, message: "" }),
        notifyToken: token,
      },
      memoryLogger(),
    );
    let base = "";
    beforeAll(async () => {
      base = `http://127.0.0.1:${await listen(server, "127.0.0.1", 0)}`;
    });
    afterAll(() => close(server));

    const push = (url: URL) =>
      fetch(`${base}${url.pathname}${url.search}`, { method: "POST", body: JSON.stringify({ Records: [] }) });

    it("is accepted once the token is filled in, and refused as applied without it", async () => {
      const filled = new URL(uri.toString().replace(PLACEHOLDER, token));
      expect((await push(filled)).status).toBe(200);
      expect((await push(uri)).status).toBe(401);
      const bare = new URL(uri);
      bare.search = "";
      expect((await push(bare)).status).toBe(401);
    });
  });
});
