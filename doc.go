// Package dcbackup backs up a Datomic database's transaction log,
// continuously and incrementally, to a filesystem or S3, and restores it
// by replaying the log into a fresh database: the same history, the same
// transaction instants, entity ids remapped consistently.
//
// It is a library: a service imports it and calls it from its own
// scheduler. Databases are reached through the small [datomic.Conn]
// interface; package datomic/peer connects to a Datomic peer-server, and
// datomic/mem is an in-memory Datomic (the embedded default, used by the
// examples and the tests).
//
// # Backing up
//
// A backup is a sequence of segments in a [BackupStore]. A segment holds
// the transactions whose t lies in a half-open range [StartT, EndT), with
// what a restore needs to read them without the source; consecutive
// segments touch (next.StartT == prev.EndT), so a missing one is visible.
//
//   - [Backup] writes everything up to the source's basis, several ranges
//     at a time, and resumes where an interrupted run stopped: the first
//     backup.
//   - [BackupNext] writes at most one segment of what is new: call it from
//     a scheduler, say every minute, and again at once while
//     [BackupResult.More]. [LastSegmentInfo] says where it continues.
//   - [ContinuousBackup] is that loop, with jitter, backoff on failure and
//     a callback for metrics and alerts.
//   - [Gaps] lists the ranges of t that no segment covers (a lost file, an
//     interrupted parallel backup); [Check] reads every segment of a store
//     and reports what a restore would miss (damaged segments, gaps,
//     segments that do not continue the one before); [Repair] fills and
//     heals from the source.
//   - [Compact] merges runs of small segments (BackupNext every minute
//     writes many) into large ones, checking them before it deletes their
//     inputs.
//
// # Restoring
//
//   - [Restore] replays every segment not yet restored into the target, one
//     target transaction per source transaction. Call it again to continue:
//     each restored transaction records the last source t, so a restore
//     interrupted anywhere resumes exactly once. [RestoreOptions] gives a
//     point in time (UntilT, UntilInstant), a Filter that leaves datoms out
//     and Rewrite functions that replace values.
//   - [RestoreSegment] restores one segment per call.
//   - [Replicate] keeps a standby database current: it restores new
//     segments as they appear in the store.
//   - [Verify] compares a source and its restored copy transaction by
//     transaction and datom by datom, modulo the id map.
//
// # Stores
//
// [NewFSStore] keeps segments in a directory, [NewS3Store] in an S3 bucket
// (or an S3-compatible server) through an *s3.Client you configure, and
// [NewMemStore] in memory, for tests. Every store is safe for concurrent
// use, never overwrites a segment ([ErrSegmentExists]) and never shows a
// partial one. The segment format is specified byte by byte in
// SEGMENT-FORMAT.md; [EncodeSegment] and [DecodeSegment] read and write it.
// Segments can be encrypted with age: [EncodeOptions.Recipients] on the
// backup side (public keys only), [DecodeOptions.Identities] where restores
// run.
//
// # Options and errors
//
// Options structs are optional: a nil pointer or the zero value gives the
// defaults. Backup, restore and replication options take a
// *slog.Logger (silent by default) and a progress callback.
//
// Errors wrap sentinels for [errors.Is]: [ErrGap] (a [*GapError] names the
// missing range), [ErrCorruptSegment], [ErrSegmentExists],
// [ErrSegmentNotFound], [ErrSegmentTooLarge], [ErrNoSegments],
// [ErrChainBroken], [ErrSourceMismatch], [ErrTargetNotEmpty],
// [ErrTargetModified], [ErrWrongDatabase], [ErrBootstrapMismatch],
// [ErrRenamedSince], [ErrNoKey], [ErrCannotRestore]. Rejections by the
// database are [*datomic.Error].
//
// # Where to go next
//
// In the repository: README.md (what is guaranteed and tested, running it
// in a service, S3, performance, limitations), SEGMENT-FORMAT.md (the
// segment format), docs/S3.md (the S3 store: layout, requests,
// permissions), docs/PEER.md (the peer-server client), docs/COMMAND.md
// (cmd/dcbackup, which lists, verifies and dumps a store),
// docs/PERFORMANCE.md, and datomic/mem/SEMANTICS.md (the Datomic behaviour
// the in-memory engine implements). The examples directory has programs
// to copy: quickstart (backup, restore, verify), scheduler (the loops of a
// service) and s3.
package dcbackup
