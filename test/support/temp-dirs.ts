// The function's temporary folders (functions/face-recognition/pipeline/temp-dirs.ts), named after
// their process: one per video being processed, and one a process keeps for its ffmpeg sockets.
import { readdirSync } from "node:fs";

const SOCKETS = /^facerec-\d+-ffmpeg-/;

/** The folders in `dir` holding videos (of process `pid` only, when given): none once each video is done. */
export function videoFolders(dir: string, pid?: number): string[] {
  const ours = new RegExp(`^facerec-${pid ?? "\\d+"}-`);
  return readdirSync(dir).filter((name) => ours.test(name) && !SOCKETS.test(name));
}

/** Every folder of process `pid` in `dir`, its sockets' too: none once a dead process is swept. */
export function foldersOf(dir: string, pid: number): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(`facerec-${pid}-`));
}
