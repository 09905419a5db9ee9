/**
 * Which other processes hold a file open: a scan of /proc/<pid>/fd (Linux).
 * Processes of other users are visible only to root; where /proc is missing
 * the scan reports `null` (unknown) and callers rely on locks alone.
 */
import * as fs from 'node:fs';

export interface FileHolder {
  pid: number;
  /** The process's command name (/proc/<pid>/comm), when readable. */
  command: string;
  file: string;
}

/** Processes other than this one with any of `files` (absolute real paths) open; null when /proc is unavailable. */
export function processesHolding(files: readonly string[]): FileHolder[] | null {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return null;
  }
  const wanted = new Set(files);
  const out: FileHolder[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's process
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!wanted.has(target)) continue; // a "(deleted)" target is an old file, not this one
      const file = target;
      let command = '';
      try {
        command = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        /* exited meanwhile */
      }
      out.push({ pid: Number(pid), command, file });
      break;
    }
  }
  return out;
}
