/** The one function that knows the object layout: objects/<2 hex>/<2 hex>/<64 hex>. */
import * as path from 'node:path';
import type { ObjectId } from './objectId.js';

export const OBJECTS_DIR = 'objects';

export function objectShardDir(objectsRoot: string, id: ObjectId): string {
  return `${objectsRoot}${path.sep}${id.slice(0, 2)}${path.sep}${id.slice(2, 4)}`;
}

export function objectPath(objectsRoot: string, id: ObjectId): string {
  return `${objectsRoot}${path.sep}${id.slice(0, 2)}${path.sep}${id.slice(2, 4)}${path.sep}${id}`;
}
