// What runs in the local stack and how each part is found: the function's and the trigger's
// service specs, the pid and log files of each, and the status of every component.
import { join } from "node:path";
import { cephStatus } from "../../ceph/local/cluster.js";
import { endpoints, type StackConfig, type StackService, stackPaths } from "./config.js";
import { dynaliteStatus } from "./dynalite.js";
import { type ServiceSpec, serviceStatus } from "./services.js";

export interface ComponentStatus {
  name: StackService;
  /** off: not in STACK_SERVICES. partial: some of its processes run, or it runs but does not answer. */
  state: "up" | "down" | "partial" | "off";
  pids: number[];
  url: string;
  log: string;
}

export const FUNCTION_PATH = "/function/face-recognition";

export async function componentStatus(config: StackConfig): Promise<ComponentStatus[]> {
  const p = stackPaths(config.dir);
  const urls = endpoints(config.ports);
  const off = (name: StackService) => !config.services.includes(name);
  const ceph = await cephStatus(p.ceph);
  const dynamo = await dynaliteStatus(dynaliteFiles(config));
  const services = await Promise.all(
    (["function", "trigger"] as const).map(async (name) => {
      const spec = name === "function" ? functionSpec(config, {}) : triggerSpec(config, {});
      return serviceStatus(spec, serviceFiles(config, name));
    }),
  );
  const state = (running: boolean, answers: boolean, name: StackService): ComponentStatus["state"] =>
    answers && running ? "up" : running || answers ? "partial" : off(name) ? "off" : "down";
  const [fn, trigger] = services;
  return [
    {
      name: "ceph",
      state: ceph.state === "down" && off("ceph") ? "off" : ceph.state,
      pids: ceph.daemons.filter((d) => d.running).map((d) => d.pid ?? 0),
      url: urls.s3,
      log: join(p.ceph, "log"),
    },
    {
      name: "dynamodb",
      state: state(dynamo.running, dynamo.answers, "dynamodb"),
      pids: dynamo.running && dynamo.pid ? [dynamo.pid] : [],
      url: urls.dynamodb,
      log: p.logFile("dynalite"),
    },
    {
      name: "function",
      state: state(fn?.running ?? false, fn?.healthy ?? false, "function"),
      pids: fn?.running && fn.pid ? [fn.pid] : [],
      url: `${urls.openfaas}${FUNCTION_PATH}`,
      log: p.logFile("function"),
    },
    {
      name: "trigger",
      state: state(trigger?.running ?? false, trigger?.healthy ?? false, "trigger"),
      pids: trigger?.running && trigger.pid ? [trigger.pid] : [],
      url: urls.trigger,
      log: p.logFile("trigger"),
    },
  ];
}

export function functionSpec(config: StackConfig, env: Record<string, string>): ServiceSpec {
  return {
    name: "function",
    script: "function",
    args: [],
    env: { ...env, HOST: "127.0.0.1", PORT: String(config.ports.function) },
    port: config.ports.function,
    healthPath: "/_/health",
    // Loading the face models takes a while on a busy machine.
    readyTimeoutMs: 180_000,
    stopGraceMs: 15_000,
  };
}

export function triggerSpec(config: StackConfig, env: Record<string, string>): ServiceSpec {
  return {
    name: "trigger",
    script: "trigger",
    args: ["run"],
    env: { ...env, TRIGGER_HOST: "127.0.0.1", TRIGGER_PORT: String(config.ports.trigger) },
    port: config.ports.trigger,
    healthPath: "/healthz",
    readyTimeoutMs: 60_000,
    // It drains running invocations on SIGTERM (SHUTDOWN_TIMEOUT_SECONDS, 25 s by default).
    stopGraceMs: 30_000,
  };
}

export function serviceFiles(config: StackConfig, name: string) {
  const p = stackPaths(config.dir);
  return { marker: config.dir, pidFile: p.pidFile(name), logFile: p.logFile(name) };
}

export function dynaliteFiles(config: StackConfig) {
  return { ...serviceFiles(config, "dynalite"), port: config.ports.dynamodb };
}
