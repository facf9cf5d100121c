// The function as its image runs it, for the chaos test: the real of-watchdog (the "gateway" the
// triggers call) forking `node dist/function.mjs` with the Dockerfile's and stack.yml's settings,
// secrets as files. It listens on fixed ports chosen once, so that after a kill it comes back at the
// address the triggers' OPENFAAS_URL names. Every incarnation keeps its own log lines: runs cut off
// by a kill are counted from them.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "../../../lib/net.js";
import { descendantsOf, exited } from "../../../lib/process.js";
import { ensureBuilt } from "../../deploy/support/bundle.js";
import { ROOT } from "../../deploy/support/scan.js";
import { type FunctionStage, stageFunction } from "../../support/function-stage.js";
import { killWatchdog, openfaasTool, type StartingWatchdog, startWatchdog } from "../../support/openfaas.js";
import { waitFor } from "../../support/wait.js";

export type LogLine = Record<string, unknown> & { msg?: string };

export interface ChaosStage extends FunctionStage {
  /** A secrets folder for the triggers: function-token, as OpenFaaS or Kubernetes mounts it. */
  triggerSecretsDir: string;
}

/** The function's run staged (buckets, students, gallery, secrets), and the triggers' secrets. */
export async function stageChaos(data: string, overrides: Record<string, string>): Promise<ChaosStage> {
  const staged = await stageFunction("chaos", data, overrides);
  const triggerSecretsDir = join(staged.work, "trigger-secrets");
  mkdirSync(triggerSecretsDir);
  writeFileSync(join(triggerSecretsDir, "function-token"), `${staged.token}\n`, { mode: 0o400 });
  return { ...staged, triggerSecretsDir };
}

/** One start of the watchdog and the function it forks. */
export class Incarnation implements StartingWatchdog {
  readonly output: string[] = [];
  /** The function's JSON log lines (the watchdog prefixes each with a date and the stream). */
  readonly lines: LogLine[] = [];
  readonly exited: Promise<number | null>;
  killed = false;

  constructor(
    readonly number: number,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        for (const text of parts) this.take(text);
      });
    }
  }

  private take(text: string): void {
    if (!text.trim()) return;
    this.output.push(text);
    const start = text.indexOf("{");
    if (start < 0) return;
    try {
      this.lines.push(JSON.parse(text.slice(start)) as LogLine);
    } catch {
      // a watchdog line that merely holds a brace
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get ready(): boolean {
    return this.lines.some((l) => l.msg === "ready");
  }

  get printed(): string {
    return this.output.join("\n");
  }

  async stop(): Promise<void> {
    this.killed = true;
    await killWatchdog(this.child, this.exited);
  }

  /** The process the watchdog forked (the function), if it is still there. */
  functionPid(): number | undefined {
    return descendantsOf(this.child.pid as number)[0];
  }
}

/** The watchdog at one address across restarts; `incarnations` holds every start's logs. */
export class WatchdogGateway {
  readonly incarnations: Incarnation[] = [];

  private constructor(
    private readonly stage: FunctionStage,
    private readonly fwatchdog: string,
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  static async create(stage: FunctionStage): Promise<WatchdogGateway> {
    const fwatchdog = openfaasTool("fwatchdog");
    if (!fwatchdog) throw new Error("fwatchdog not found (../shared/tools/openfaas)");
    const fprocess = stage.env.fprocess as string;
    await ensureBuilt(fprocess.split(" ").find((w, i) => i > 0 && !w.startsWith("-")) as string);
    const { port, upstream } = await freePorts(["port", "upstream"]);
    return new WatchdogGateway(stage, fwatchdog, port, upstream);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get current(): Incarnation | undefined {
    return this.incarnations.at(-1);
  }

  /** Starts the watchdog and waits until the function logs "ready". */
  async start(): Promise<Incarnation> {
    const env = {
      ...this.stage.env,
      port: String(this.port),
      upstream_url: `http://127.0.0.1:${this.upstreamPort}`,
      PORT: String(this.upstreamPort),
    };
    return startWatchdog(() => {
      const child = spawn(this.fwatchdog, [], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      const run = new Incarnation(this.incarnations.length + 1, child);
      this.incarnations.push(run);
      return run;
    });
  }

  /**
   * kill -9 of the function's process only. The watchdog should exit by itself (the pod restarts)
   * and the function's own children go with it; whatever is left running is killed too, and returned.
   */
  async killFunction(): Promise<{ watchdogExited: boolean; leftovers: number[] }> {
    const run = this.current;
    const pid = run?.functionPid();
    if (!run || pid === undefined) throw new Error("no function process to kill");
    const below = descendantsOf(run.child.pid as number);
    run.killed = true;
    process.kill(pid, "SIGKILL");
    const watchdogExited = await waitFor(() => !run.running, Boolean, 15_000);
    await waitFor(() => below.every(exited), Boolean, 10_000);
    const leftovers = below.filter((p) => !exited(p));
    await this.down();
    for (const p of leftovers) process.kill(p, "SIGKILL");
    return { watchdogExited, leftovers };
  }

  /** The gateway gone at once: the watchdog and everything under it kill -9'd (ours, by pid). */
  async down(): Promise<void> {
    await this.current?.stop();
  }
}
