// Settings are read once, at start, into one typed object per process. Each setting's text is
// checked by a zod schema (the builders below); every problem is collected and reported together,
// naming the setting, so an operator fixes them in one go.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
// zod/mini: the same checks as zod, in a form the bundle takes only the parts of that it uses
// (full zod adds tens of milliseconds to every process start).
import * as z from "zod/mini";
import { registerSecret } from "./log.js";

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Where OpenFaaS mounts secrets; environment variables are the local fallback. */
const DEFAULT_SECRETS_DIR = "/var/openfaas/secrets";

/** A schema for one setting's text (trimmed, never empty: an empty variable counts as unset). */
export type SettingSchema<T> = z.ZodMiniType<T, string>;

export interface Range {
  min?: number;
  max?: number;
}

/** A number (a whole one with `integer`) within the range. */
export function numberSetting(range: Range = {}, integer = false): SettingSchema<number> {
  const bounds = [
    ...(range.min === undefined ? [] : [z.minimum(range.min, `must be at least ${range.min}`)]),
    ...(range.max === undefined ? [] : [z.maximum(range.max, `must be at most ${range.max}`)]),
  ];
  const text = z.string().check(
    z.refine((text) => Number.isFinite(Number(text)) && (!integer || Number.isInteger(Number(text))), {
      error: (issue) => `must be ${integer ? "a whole number" : "a number"}, got "${issue.input}"`,
    }),
  );
  return z.pipe(z.pipe(text, z.transform(Number)), z.number().check(...bounds));
}

const TRUE_WORDS = ["1", "true", "yes", "on"] as const;
const FALSE_WORDS = ["0", "false", "no", "off"] as const;

/** true/false, yes/no, on/off, 1/0, in any case. */
const flagSetting: SettingSchema<boolean> = z.pipe(
  z.pipe(
    z.string().check(z.toLowerCase()),
    z.enum([...TRUE_WORDS, ...FALSE_WORDS], { error: (issue) => `must be true or false, got "${issue.input}"` }),
  ),
  z.transform((word) => (TRUE_WORDS as readonly string[]).includes(word)),
);

/** One of the given words, exactly. */
function choiceSetting<T extends string>(choices: readonly T[]): SettingSchema<T> {
  return z.enum(choices, { error: (issue) => `must be one of ${choices.join(", ")}, got "${issue.input}"` });
}

/** An http(s) URL, without trailing slashes. */
const urlSetting: SettingSchema<string> = z.pipe(
  z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  z.transform((url: string) => url.replace(/\/+$/, "")),
);

/** A comma-separated list; empty entries are dropped, the rest trimmed and passed through `item`. */
export function listSetting<T>(item: z.ZodMiniType<T, string>, what: string): SettingSchema<T[]> {
  return z.pipe(
    z.string(),
    z.transform((text: string, ctx) => {
      const entries = text
        .split(",")
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "");
      const parsed = entries.map((entry) => item.safeParse(entry));
      const wrong = entries.filter((_, i) => !parsed[i]?.success);
      if (wrong.length > 0) {
        ctx.issues.push({ code: "custom", input: text, message: `must list ${what}; got "${wrong.join('", "')}"` });
        return z.NEVER;
      }
      return parsed.map((result) => result.data as T);
    }),
  );
}

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

  /** The setting's text checked by `schema`; unset: `fallback`. A problem is recorded, and `fallback` returned. */
  private parse<T, F>(name: string, schema: SettingSchema<T>, fallback: F, text = this.raw(name)): T | F {
    if (text === undefined) return fallback;
    const parsed = schema.safeParse(text);
    return parsed.success ? parsed.data : this.fail(name, parsed.error.issues[0]?.message ?? "is invalid", fallback);
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback;
    return value ?? this.fail(name, "is required", "");
  }

  /** The setting's text, or its value through `schema`; undefined when unset (or wrong, with the problem recorded). */
  optional(name: string): string | undefined;
  optional<T>(name: string, schema: SettingSchema<T>): T | undefined;
  optional<T>(name: string, schema?: SettingSchema<T>): T | string | undefined {
    return schema ? this.parse(name, schema, undefined) : this.raw(name);
  }

  int(name: string, fallback: number, range: Range = {}): number {
    return this.parse(name, numberSetting(range, true), fallback);
  }

  number(name: string, fallback: number, range: Range = {}, integer = false): number {
    return this.parse(name, numberSetting(range, integer), fallback);
  }

  bool(name: string, fallback: boolean): boolean {
    return this.parse(name, flagSetting, fallback);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    return this.parse(name, choiceSetting(choices), fallback);
  }

  /** A fallback is checked too: it may be built from other settings (a host, a port). */
  url(name: string, fallback?: string): string {
    const text = this.raw(name) ?? fallback;
    return text === undefined ? this.fail(name, "is required (a URL)", "") : this.parse(name, urlSetting, "", text);
  }

  optionalUrl(name: string): string | undefined {
    return this.parse(name, urlSetting, undefined);
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
