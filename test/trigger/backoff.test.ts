import { describe, expect, it } from "vitest";
import { backoffDelay, parseRetryAfter, retryDelay } from "../../trigger/backoff.js";

const options = { baseMs: 1000, maxMs: 30_000 };

describe("backoffDelay", () => {
  it("doubles per attempt, between half and all of base·2^(n−1)", () => {
    expect(backoffDelay(1, options, () => 0)).toBe(500);
    expect(backoffDelay(1, options, () => 1)).toBe(1000);
    expect(backoffDelay(2, options, () => 0)).toBe(1000);
    expect(backoffDelay(3, options, () => 1)).toBe(4000);
    expect(backoffDelay(4, options, () => 0.5)).toBe(6000);
  });

  it("never exceeds the cap, even for absurd attempt numbers", () => {
    expect(backoffDelay(10, options, () => 1)).toBe(30_000);
    expect(backoffDelay(10, options, () => 0)).toBe(15_000);
    expect(backoffDelay(10_000, options, () => 1)).toBe(30_000);
  });

  it("spreads replicas that failed together (jitter)", () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(3, options)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(2000);
    for (const d of delays) expect(d).toBeLessThanOrEqual(4000);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter("0.5")).toBe(500);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Thu, 01 Jan 2025 00:00:10 GMT", now)).toBe(0);
  });

  it("ignores what is absent or unreadable", () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter("")).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
});

describe("retryDelay", () => {
  it("waits at least as long as the server asks, within the cap", () => {
    expect(retryDelay(1, options, 5000, () => 0)).toBe(5000);
    expect(retryDelay(1, options, 100, () => 0)).toBe(500);
    expect(retryDelay(1, options, 600_000, () => 0)).toBe(30_000);
  });
});
