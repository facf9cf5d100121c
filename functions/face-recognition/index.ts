// The function's process: read settings, build the function, serve. With WORKERS > 1 a primary
// process forks one worker per core (the wasm backend uses one core) and replaces any that die.
import cluster from "node:cluster";
import { ConfigError } from "../../lib/config.js";
import { createLogger, describeError } from "../../lib/log.js";
import { createFunctionApp, FUNCTION_NAME, serveFunction } from "./app.js";
import { readFunctionConfig } from "./config.js";

const log = createLogger(FUNCTION_NAME);

async function serve(): Promise<void> {
  const started = performance.now();
  const config = readFunctionConfig();
  const app = await createFunctionApp(config, log);
  const server = await serveFunction(app, config, log);
  log.info("ready", {
    url: server.url,
    backend: app.analyzer.engine.backend,
    detector: app.analyzer.engine.detector,
    speedups: app.analyzer.engine.speedups.enabled,
    people: app.gallery.people.length,
    galleryModel: app.gallery.model,
    rules: app.analyzer.rules,
    startMs: Math.round(performance.now() - started),
  });
  const stop = () => {
    log.info("stopping");
    // In-flight requests finish; new connections are refused.
    server.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

function supervise(workers: number): void {
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log.error("worker died, starting another", { pid: worker.process.pid, code, signal });
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

function fail(err: unknown): never {
  log.error(err instanceof ConfigError ? "configuration error" : "start failed", describeError(err));
  process.exit(1);
}

try {
  const { workers } = readFunctionConfig();
  if (workers > 1 && cluster.isPrimary) supervise(workers);
  else serve().catch(fail);
} catch (err) {
  fail(err);
}
