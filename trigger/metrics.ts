// The trigger's Prometheus metrics (prom-client), in a registry of their own per daemon: several
// daemons in one process (the tests) do not share counters.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

const P = "facerec_trigger";

/** The trigger's metrics; `render` is the text GET /metrics serves. */
export function createTriggerMetrics(queue: () => { depth: number; active: number }) {
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name: `${P}_${name}`, help, labelNames, registers });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: `${P}_${name}`,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  return {
    render: () => registry.metrics(),
    /** Videos handed to the work queue, by how they were found (poll, push). */
    seen: counter("videos_seen_total", "Videos found that needed work, by source.", ["source"]),
    started: counter("invocations_started_total", "Function invocations started."),
    succeeded: counter("videos_succeeded_total", "Videos the function processed."),
    failed: counter("videos_failed_total", "Videos marked failed, by kind (permanent, exhausted).", ["kind"]),
    superseded: counter(
      "videos_superseded_total",
      "Uploads replaced before the function read them (409): the newer upload's job reports the key.",
    ),
    retried: counter("retries_total", "Transient failures scheduled for another attempt."),
    busy: counter("busy_total", "Busy answers (429) retried later without spending an attempt."),
    takenOver: counter("claims_taken_over_total", "Jobs taken over from a replica whose lease lapsed."),
    givenUp: counter(
      "calls_given_up_total",
      "Calls given up before their answer, by reason (lost: claim taken; lapsed: no renewal for a lease; shutdown).",
      ["reason"],
    ),
    polls: counter("polls_total", "Bucket listings, by result.", ["result"]),
    notifications: counter("notifications_total", "Bucket notification records, by result.", ["result"]),
    latency: new Histogram({
      name: `${P}_invocation_duration_seconds`,
      help: "Time from request to answer of one function invocation, by outcome.",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    queueDepth: gauge("queue_depth", "Videos waiting in the work queue.", () => queue().depth),
    inFlight: gauge("invocations_in_flight", "Invocations running now.", () => queue().active),
  };
}

export type TriggerMetrics = ReturnType<typeof createTriggerMetrics>;
