// The trigger's deployed calls against the function's capacity (stack.yml): at the function's
// minimum scale every call the trigger replicas make at once is taken, so a burst is not answered
// 429 before the autoscaler has added a replica (busy answers are retried, but cost time).
import { describe, expect, it } from "vitest";
import { loadManifests, loadYaml } from "../../deploy/support/scan.js";

interface StackFunction {
  environment?: Record<string, string>;
  labels?: Record<string, string>;
}

const configMap = loadManifests("trigger/k8s/configmap.yaml").find((d) => d.kind === "ConfigMap");
const deployment = loadManifests("trigger/k8s/deployment.yaml").find((d) => d.kind === "Deployment");
const stack = loadYaml("stack.yml")[0] as { functions: Record<string, StackFunction> };
const fn = stack.functions["face-recognition"] as StackFunction;

describe("trigger/k8s/configmap.yaml", () => {
  it("makes no more calls at once than the function takes at its minimum scale", () => {
    const replicas = Number((deployment?.spec as { replicas?: number } | undefined)?.replicas);
    const concurrency = Number((configMap?.data as Record<string, string> | undefined)?.INVOKE_CONCURRENCY);
    const maxInflight = Number(fn.environment?.max_inflight);
    const minScale = Number(fn.labels?.["com.openfaas.scale.min"] ?? 1);
    expect(replicas).toBeGreaterThanOrEqual(1);
    expect(concurrency).toBeGreaterThanOrEqual(1);
    expect(replicas * concurrency).toBeLessThanOrEqual(maxInflight * minScale);
  });

  it("lets a rolling update wait for a call in flight rather than run its video again", () => {
    const data = (configMap?.data ?? {}) as Record<string, string>;
    const grace = Number(
      (deployment?.spec as { template?: { spec?: { terminationGracePeriodSeconds?: number } } })?.template?.spec
        ?.terminationGracePeriodSeconds,
    );
    const shutdown = Number(data.SHUTDOWN_TIMEOUT_SECONDS);
    // A call ends by INVOKE_TIMEOUT_SECONDS; then what still runs is released (daemon.ts waits 5 s).
    expect(shutdown).toBeGreaterThanOrEqual(Number(data.INVOKE_TIMEOUT_SECONDS));
    expect(grace).toBeGreaterThanOrEqual(shutdown + 10);
  });
});
