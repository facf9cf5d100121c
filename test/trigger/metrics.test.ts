import { describe, expect, it } from "vitest";
import { createTriggerMetrics } from "../../trigger/metrics.js";

describe("metrics", () => {
  it("renders Prometheus text under the names dashboards use: counters with labels, gauges, a histogram", async () => {
    const m = createTriggerMetrics(() => ({ depth: 3, active: 2 }));
    m.seen.inc({ source: "poll" }, 2);
    m.seen.inc({ source: "push" });
    m.superseded.inc();
    m.latency.observe({ outcome: "succeeded" }, 0.3);
    const text = await m.render();
    expect(text).toContain("# TYPE facerec_trigger_videos_seen_total counter");
    expect(text).toContain('facerec_trigger_videos_seen_total{source="poll"} 2');
    expect(text).toContain('facerec_trigger_videos_seen_total{source="push"} 1');
    expect(text).toContain("facerec_trigger_videos_succeeded_total 0");
    expect(text).toContain("facerec_trigger_videos_superseded_total 1");
    expect(text).toContain("facerec_trigger_queue_depth 3");
    expect(text).toContain("facerec_trigger_invocations_in_flight 2");
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_bucket{le="0.25",outcome="succeeded"} 0');
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_bucket{le="0.5",outcome="succeeded"} 1');
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_bucket{le="+Inf",outcome="succeeded"} 1');
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_count{outcome="succeeded"} 1');
    expect(text.endsWith("\n")).toBe(true);
  });

  it("keeps each daemon's counters apart", async () => {
    const a = createTriggerMetrics(() => ({ depth: 0, active: 0 }));
    const b = createTriggerMetrics(() => ({ depth: 0, active: 0 }));
    a.retried.inc();
    expect(await a.render()).toContain("facerec_trigger_retries_total 1");
    expect(await b.render()).toContain("facerec_trigger_retries_total 0");
  });

  it("escapes label values", async () => {
    const m = createTriggerMetrics(() => ({ depth: 0, active: 0 }));
    m.polls.inc({ result: 'a"b\\c\nd' });
    expect(await m.render()).toContain('facerec_trigger_polls_total{result="a\\"b\\\\c\\nd"} 1');
  });
});
