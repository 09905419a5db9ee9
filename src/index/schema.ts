/** The version index schema, migrated by PRAGMA user_version. */
export const INDEX_SCHEMA_VERSION = 1;

export const MIGRATIONS: readonly string[] = [
  // 0 → 1
  `
  CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    head TEXT
  );
  CREATE TABLE snapshots (
    id TEXT PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    time_ms INTEGER NOT NULL,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    mode TEXT NOT NULL,
    base TEXT,
    message TEXT NOT NULL,
    tree TEXT NOT NULL,
    host TEXT NOT NULL,
    user TEXT NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    stats TEXT NOT NULL
  );
  CREATE INDEX snapshots_time ON snapshots(time_ms);
  CREATE INDEX snapshots_source ON snapshots(source_id, time_ms);
  CREATE TABLE parents (
    child TEXT NOT NULL,
    parent TEXT NOT NULL,
    ord INTEGER NOT NULL,
    PRIMARY KEY (child, ord)
  );
  CREATE INDEX parents_parent ON parents(parent);
  CREATE TABLE tags (
    name TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL,
    time TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX tags_snapshot ON tags(snapshot);
  CREATE TABLE file_versions (
    path TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    status TEXT NOT NULL,
    type TEXT,
    content TEXT,
    size INTEGER,
    PRIMARY KEY (path, snapshot)
  ) WITHOUT ROWID;
  CREATE INDEX file_versions_snapshot ON file_versions(snapshot);
  `,
];
