// Prometheus text exposition (format 0.0.4) for the few metrics the trigger has: counters with
// labels, gauges read when scraped, one latency histogram. Small enough not to need a library.

type Labels = Record<string, string>;

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
};
const labelId = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());
const formatNumber = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN");

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const id = labelId(labels);
    const entry = this.values.get(id) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(id, entry);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelId(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${formatNumber(this.read())}`,
    ].join("\n");
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const id = labelId(labels);
    let entry = this.series.get(id);
    if (!entry) {
      entry = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(id, entry);
    }
    this.buckets.forEach((bound, i) => {
      if (value <= bound && entry) entry.counts[i] = (entry.counts[i] ?? 0) + 1;
    });
    entry.sum += value;
    entry.count += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: formatNumber(bound) })} ${counts[i] ?? 0}`);
      });
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: "+Inf" })} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return lines.join("\n");
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  render(): string {
    return `${this.metrics.map((metric) => metric.render()).join("\n")}\n`;
  }
}

/** The trigger's metrics. */
export function createTriggerMetrics(queue: () => { depth: number; active: number }) {
  const registry = new Registry();
  const p = "facerec_trigger";
  return {
    registry,
    /** Videos handed to the work queue, by how they were found (poll, push, callback). */
    seen: registry.add(new Counter(`${p}_videos_seen_total`, "Videos found that needed work, by source.")),
    started: registry.add(new Counter(`${p}_invocations_started_total`, "Function invocations started.")),
    succeeded: registry.add(new Counter(`${p}_videos_succeeded_total`, "Videos the function processed.")),
    failed: registry.add(
      new Counter(`${p}_videos_failed_total`, "Videos marked failed, by kind (permanent, exhausted)."),
    ),
    retried: registry.add(new Counter(`${p}_retries_total`, "Transient failures scheduled for another attempt.")),
    busy: registry.add(new Counter(`${p}_busy_total`, "Busy answers (429) retried later without spending an attempt.")),
    polls: registry.add(new Counter(`${p}_polls_total`, "Bucket listings, by result.")),
    notifications: registry.add(new Counter(`${p}_notifications_total`, "Bucket notification records, by result.")),
    latency: registry.add(
      new Histogram(
        `${p}_invocation_duration_seconds`,
        "Time from request to answer of one function invocation, by outcome.",
        [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      ),
    ),
    queueDepth: registry.add(new Gauge(`${p}_queue_depth`, "Videos waiting in the work queue.", () => queue().depth)),
    inFlight: registry.add(new Gauge(`${p}_invocations_in_flight`, "Invocations running now.", () => queue().active)),
  };
}

export type TriggerMetrics = ReturnType<typeof createTriggerMetrics>;
