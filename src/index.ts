/**
 * cairn's public API: the only module the CLI and end-to-end tests import.
 * @packageDocumentation
 */
export { Repository, type OpenOptions } from './repository.js';
export { RepoContext } from './repoContext.js';
export * from './errors.js';
export type { ObjectId } from './store/objectId.js';
export { shortId, isObjectId } from './store/objectId.js';
export type { Manifest, SnapshotMode, SnapshotType, SnapshotStats, SnapshotProblem, SourceKind } from './model/manifest.js';
export { SNAPSHOT_MODES, SNAPSHOT_TYPES } from './model/manifest.js';
export type { Tree, TreeEntry, EntryType } from './model/tree.js';
export { encodeTree, decodeTree } from './model/tree.js';
export { diffTrees, type TreeChange, type ChangeStatus, type TreeDiffOptions } from './model/treeDiff.js';
export type { SnapshotRow, LogQuery, TagRow, FileVersionRow } from './index/versionIndex.js';
export type { SnapshotOptions, SnapshotSummary } from './snapshot/snapshotter.js';
export type { WalkProgress } from './snapshot/treeBuilder.js';
export type { RestoreOptions, RestoreSummary, RestoreKind } from './ops/restore.js';
export type { RecoverySummary } from './ops/restoreInPlace.js';
export type { NameStatus, PlanCounts } from './ops/restorePlan.js';
export type { AuditQuery, AuditSummary } from './ops/auditLog.js';
export { AUDIT_OUTCOMES } from './ops/auditLog.js';
export type { ExcludeRules } from './snapshot/excludes.js';
export type { LsEntry, ShowResult } from './ops/browse.js';
export { splitRefPath } from './ops/browse.js';
export type { RebuildSummary } from './ops/rebuildIndex.js';
export { cutPoint } from './chunk/cutPoint.js';
export { chunkBuffer } from './chunk/chunkStream.js';
export { DEFAULT_CDC, type ChunkerParams } from './chunk/chunkerParams.js';
export { createLogger, type Logger } from './util/logger.js';
export { FORMAT_VERSION, type RepositoryConfig } from './repositoryConfig.js';
export type { ApprovalRequest, Approver, RiskLevel } from './approval.js';
export { refuseAll } from './approval.js';
export { AuditTrail, type AuditRecord, type AuditOutcome } from './auditTrail.js';
export type { ForgetOptions, ForgetSummary, ForgetItem } from './ops/forget.js';
export type { PruneOptions, PruneSummary, PruneProgress } from './ops/prune.js';
export type { VerifyOptions, VerifyReport, VerifyProgress, DamagedObject, DamagedSnapshot, DamagedFile, IndexProblem, ReadDataSample } from './ops/verify.js';
export type { RepositoryStats, SourceStats, SnapshotStatsReport, BreakdownRow } from './ops/stats.js';
export type { ConfigView, ConfigEntry, ConfigChange } from './ops/configure.js';
export { applyRetention, parseDuration, DEFAULT_KEEP_MINIMUM, type RetentionCandidate, type RetentionRules, type RetentionPolicy, type RetentionDecision, type RetentionKeep } from './ops/retentionPolicy.js';
export { defaultRetention, type RetentionSettings } from './ops/retentionConfig.js';
export { diffWithDisk, diffSnapshots, changeJson, normalizeDiffPaths, type DiffOptions, type DiffResult, type DiffEndpoint, type ChangeJson, type ChangeSideJson } from './ops/diff.js';
export { filePatch, gitMode, quotePath, DEFAULT_PATCH_SIZE_LIMIT, type FilePatch, type PatchKind, type PatchOptions } from './ops/patch.js';
export { assertTagName, type TagOptions, type TagSummary, type TagListEntry } from './ops/tag.js';
export { tagNameProblem, MAX_TAG_NAME_BYTES } from './model/tagName.js';
export { pathHistory, type HistoryOptions, type PathVersion } from './ops/history.js';
export { renderGraph, topoOrder, drawHistory, type GraphNode, type GraphRow, type DrawnRow } from './ops/logGraph.js';
export type { EntrySide } from './model/treeDiff.js';
