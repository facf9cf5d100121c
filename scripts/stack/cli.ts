// npm run stack:up | stack:down | stack:status — the local stack (scripts/stack/stack.ts; settings
// and their STACK_* variables: scripts/stack/config.ts).
import { relative } from "node:path";
import { ConfigError } from "../../lib/config.js";
import { REPO_ROOT } from "./config.js";
import { type StackInfo, stackDown, stackStatus, stackUp } from "./stack.js";

const USAGE = "usage: tsx scripts/stack/cli.ts up|down|status";

const short = (path: string) => (path.startsWith(REPO_ROOT) ? relative(REPO_ROOT, path) || "." : path);

function printComponents(info: StackInfo): void {
  const rows = info.components.map((c) => [c.name, c.state, c.pids.join(",") || "-", c.url, short(c.log)]);
  const header = ["service", "state", "pid", "where", "log"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  for (const row of [header, ...rows])
    console.log(`  ${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd());
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case "up": {
      const info = await stackUp();
      const already = info.started.length === 0;
      console.log(
        `stack ${already ? "was already up" : `up (started ${info.started.join(", ")})`} in ${(info.tookMs / 1000).toFixed(1)} s (state in ${short(info.config.dir)}, settings in ${short(info.config.envFile)})`,
      );
      printComponents(info);
      return info.components.every((c) => c.state === "up" || c.state === "off") ? 0 : 1;
    }
    case "down": {
      const { stopped, tookMs } = await stackDown();
      console.log(
        stopped.length > 0 ? `stopped ${stopped.join(", ")} in ${(tookMs / 1000).toFixed(1)} s` : "nothing was running",
      );
      return 0;
    }
    case "status": {
      const info = await stackStatus();
      const states = new Set(info.components.filter((c) => c.state !== "off").map((c) => c.state));
      const overall = states.size === 1 ? [...states][0] : "partial";
      console.log(`stack ${overall} (state in ${short(info.config.dir)})`);
      printComponents(info);
      return overall === "up" ? 0 : 3;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      error instanceof ConfigError ? error.message : `stack ${process.argv[2]}: ${(error as Error).message}`,
    );
    process.exit(1);
  },
);
