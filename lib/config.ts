// Settings are read once, at start, into one typed object per process. Every problem is collected
// and reported together, naming the setting, so an operator fixes them in one go.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { registerSecret } from "./log.js";

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Where OpenFaaS mounts secrets; environment variables are the local fallback. */
export const DEFAULT_SECRETS_DIR = "/var/openfaas/secrets";

export class SettingsReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === "" ? undefined : value;
  }

  private fail<T>(name: string, why: string, fallback: T): T {
    this.problems.push(`${name}: ${why}`);
    return fallback;
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback;
    return value ?? this.fail(name, "is required", "");
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    return this.number(name, fallback, range, true);
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}, integer = false): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      return this.fail(name, `must be ${integer ? "a whole number" : "a number"}, got "${text}"`, fallback);
    }
    if (range.min !== undefined && value < range.min) return this.fail(name, `must be at least ${range.min}`, fallback);
    if (range.max !== undefined && value > range.max) return this.fail(name, `must be at most ${range.max}`, fallback);
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const text = this.raw(name)?.toLowerCase();
    if (text === undefined) return fallback;
    if (["1", "true", "yes", "on"].includes(text)) return true;
    if (["0", "false", "no", "off"].includes(text)) return false;
    return this.fail(name, `must be true or false, got "${text}"`, fallback);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if ((choices as readonly string[]).includes(text)) return text as T;
    return this.fail(name, `must be one of ${choices.join(", ")}, got "${text}"`, fallback);
  }

  url(name: string, fallback?: string): string {
    const text = this.raw(name) ?? fallback;
    if (text === undefined) return this.fail(name, "is required (a URL)", "");
    try {
      const parsed = new URL(text);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("protocol");
      return text.replace(/\/+$/, "");
    } catch {
      return this.fail(name, "must be an http(s) URL", "");
    }
  }

  optionalUrl(name: string): string | undefined {
    return this.raw(name) === undefined ? undefined : this.url(name);
  }

  /**
   * A secret: the file `<SECRETS_DIR>/<fileName>` when it exists (OpenFaaS, Kubernetes), else the
   * environment variable. The value is registered with the logger so it is masked in any log line.
   * With `refuseEmptyFile`, a file that exists but is empty is a problem, not "no secret": a
   * mounted secret means one was meant, and an empty one must not silently turn a check off.
   */
  secret(name: string, fileName: string, required = true, refuseEmptyFile = false): string | undefined {
    const dir = this.raw("SECRETS_DIR") ?? DEFAULT_SECRETS_DIR;
    const file = join(dir, fileName);
    let value: string | undefined;
    if (existsSync(file)) {
      try {
        value = readFileSync(file, "utf8").trim() || undefined;
      } catch {
        return this.fail(name, `secret file ${file} cannot be read`, undefined);
      }
      if (value === undefined && refuseEmptyFile) {
        return this.fail(name, `secret file ${file} is empty (remove it to run without ${name})`, undefined);
      }
    }
    value ??= this.raw(name);
    if (value === undefined) {
      return required
        ? this.fail(name, `is required (environment variable or secret file ${file})`, undefined)
        : undefined;
    }
    registerSecret(value);
    return value;
  }

  /** A problem the caller's own rule found (one setting that depends on another), reported with the rest. */
  problem(name: string, why: string): void {
    this.problems.push(`${name}: ${why}`);
  }

  /** Throws a ConfigError listing every problem found, or returns the built settings. */
  done<T>(settings: T): T {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return settings;
  }
}

export function readSettings<T>(env: Env, build: (read: SettingsReader) => T): T {
  const reader = new SettingsReader(env);
  return reader.done(build(reader));
}
