// Structured JSON logs, one object per line. Every line from a request carries its request id and
// video key (bind them with child()). Registered secret values are masked wherever they appear.

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secrets = new Set<string>();

/** Any value registered here is replaced by "[redacted]" in every log line written afterwards. */
export function registerSecret(value: string): void {
  // Very short values would mask ordinary words; real credentials are longer.
  if (value.length >= 6) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return out;
}

/** Error → plain fields, without stacks of foreign code or request objects that could hold credentials. */
export function describeError(error: unknown): Fields {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      error: redact(error.message),
      errorName: error.name,
      ...(typeof code === "string" ? { errorCode: code } : {}),
    };
  }
  return { error: redact(String(error)) };
}

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export type LogWriter = (line: string) => void;

export function createLogger(
  service: string,
  options: { level?: Level; write?: LogWriter; base?: Fields } = {},
): Logger {
  const threshold = LEVELS[options.level ?? ((process.env.LOG_LEVEL as Level | undefined) || "info")] ?? LEVELS.info;
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base = options.base ?? {};
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (LEVELS[level] < threshold) return;
    // Masked before JSON escaping: a secret holding `"` or `\` is escaped in the line, and no longer found there.
    const line = JSON.stringify(
      { time: new Date().toISOString(), level, service, msg, ...base, ...fields },
      (_, value) => (typeof value === "string" ? redact(value) : value),
    );
    write(line);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(service, { ...options, base: { ...base, ...fields } }),
  };
}

/** For tests and embedding: a logger that keeps its lines. */
export function memoryLogger(service = "test"): Logger & { lines: Fields[] } {
  const lines: Fields[] = [];
  const logger = createLogger(service, { level: "debug", write: (line) => lines.push(JSON.parse(line) as Fields) });
  return Object.assign(logger, { lines });
}
