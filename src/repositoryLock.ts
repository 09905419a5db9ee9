/**
 * Repository locks: one file per holder in locks/. Shared locks (snapshot,
 * restore, tag) coexist; an exclusive lock (prune, forget) excludes all. A
 * lock whose process is gone (same host, dead pid) is stale and removed.
 */
import { processAlive } from './util/processAlive.js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError } from './errors.js';
import { writeFileAtomicSync } from './util/durableFs.js';

export interface LockInfo {
  exclusive: boolean;
  pid: number;
  host: string;
  time: string;
  operation: string;
}


export class RepositoryLock {
  private constructor(private readonly file: string) {}

  static acquire(repoDir: string, operation: string, exclusive: boolean): RepositoryLock {
    const dir = path.join(repoDir, 'locks');
    fs.mkdirSync(dir, { recursive: true });
    const info: LockInfo = { exclusive, pid: process.pid, host: os.hostname(), time: new Date().toISOString(), operation };
    const file = path.join(dir, `${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}.json`);
    writeFileAtomicSync(file, JSON.stringify(info), { durable: false });
    for (const name of fs.readdirSync(dir)) {
      const other = path.join(dir, name);
      if (other === file || !name.endsWith('.json')) continue;
      let o: LockInfo;
      try {
        o = JSON.parse(fs.readFileSync(other, 'utf8')) as LockInfo;
      } catch {
        continue; // vanished or half-written by a process that died: not a holder
      }
      if (o.host === info.host && !processAlive(o.pid)) {
        fs.rmSync(other, { force: true });
        continue;
      }
      if (o.exclusive || exclusive) {
        fs.rmSync(file, { force: true });
        throw new BusyError(`the repository is busy: ${o.operation} (pid ${o.pid} on ${o.host}) holds ${o.exclusive ? 'an exclusive' : 'a'} lock`, {
          hint: `wait for it to finish; if that process is gone, remove ${other}`,
          details: { lock: other },
        });
      }
    }
    return new RepositoryLock(file);
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
  }
}
