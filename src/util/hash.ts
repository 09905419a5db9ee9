import * as crypto from 'node:crypto';

/** Node's one-shot digest (Node 20.12+, 21.7+): about 1.3 µs less per call than a Hash object, which counts per small file and per 8 KiB page. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: 'hex') => string }).hash;

/** Lower-case hex SHA-256 of the given bytes (a string is hashed as UTF-8). */
export function sha256Hex(data: Uint8Array | string): string {
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

export const HEX64 = /^[0-9a-f]{64}$/;
