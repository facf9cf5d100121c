import { describe, expect, it } from "vitest";
import { createTriggerMetrics, Histogram } from "../../trigger/metrics.js";

describe("metrics", () => {
  it("renders Prometheus text: counters with labels, gauges, a histogram", () => {
    const m = createTriggerMetrics(() => ({ depth: 3, active: 2 }));
    m.seen.inc({ source: "poll" }, 2);
    m.seen.inc({ source: "push" });
    m.latency.observe(0.3, { outcome: "succeeded" });
    const text = m.registry.render();
    expect(text).toContain("# TYPE facerec_trigger_videos_seen_total counter");
    expect(text).toContain('facerec_trigger_videos_seen_total{source="poll"} 2');
    expect(text).toContain('facerec_trigger_videos_seen_total{source="push"} 1');
    expect(text).toContain("facerec_trigger_videos_succeeded_total 0");
    expect(text).toContain("facerec_trigger_queue_depth 3");
    expect(text).toContain("facerec_trigger_invocations_in_flight 2");
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_bucket{outcome="succeeded",le="0.25"} 0');
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_bucket{outcome="succeeded",le="0.5"} 1');
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_bucket{outcome="succeeded",le="+Inf"} 1');
    expect(text).toContain('facerec_trigger_invocation_duration_seconds_count{outcome="succeeded"} 1');
    expect(text.endsWith("\n")).toBe(true);
  });

  it("histogram buckets are cumulative", () => {
    const h = new Histogram("h", "help", [1, 2]);
    for (const v of [0.5, 1.5, 1.5, 3]) h.observe(v);
    const text = h.render();
    expect(text).toContain('h_bucket{le="1"} 1');
    expect(text).toContain('h_bucket{le="2"} 3');
    expect(text).toContain('h_bucket{le="+Inf"} 4');
    expect(text).toContain("h_sum 6.5");
  });

  it("escapes label values", () => {
    const m = createTriggerMetrics(() => ({ depth: 0, active: 0 }));
    m.polls.inc({ result: 'a"b\\c\nd' });
    expect(m.registry.render()).toContain('facerec_trigger_polls_total{result="a\\"b\\\\c\\nd"} 1');
  });
});
