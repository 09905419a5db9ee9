import { createHash, webcrypto } from 'node:crypto';

/** Above this size, hash on the libuv thread pool so both cores work. */
const ASYNC_THRESHOLD = 256 * 1024;

/** SHA-256 hex of `data`; large inputs are hashed off the main thread. */
export async function sha256HexAsync(data: Uint8Array): Promise<string> {
  if (data.length < ASYNC_THRESHOLD) return createHash('sha256').update(data).digest('hex');
  const digest = await webcrypto.subtle.digest('SHA-256', data);
  return Buffer.from(digest).toString('hex');
}
