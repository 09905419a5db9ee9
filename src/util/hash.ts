import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of the given bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export const HEX64 = /^[0-9a-f]{64}$/;
