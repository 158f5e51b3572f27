/**
 * When a training round is worth its minutes: on the first organize of a backbone, when the person asks, when the
 * training method changed, when photos added or changed since the last round reach {@link NEW_PHOTOS_SHARE} of the
 * library, or after enough corrections. Otherwise an organize only files new photos with the active encoder.
 */
import type { TrainingDecision } from '../api/contract.js';
import type { Db } from '../db/database.js';
import * as embeddings from '../embeddings.js';
import type { Encoder } from '../encoders.js';

/** Fewer photos than this: nothing worth learning, no training. */
export const MIN_TRAIN_PHOTOS = 64;
/** New or changed photos since the last round, as a share of the library then, that warrant a new round. */
export const NEW_PHOTOS_SHARE = 0.1;
/** Photos the person placed since the last round that warrant a new round: at least this many ... */
export const MIN_CORRECTIONS = 20;
/** ... and at least this share of the library. */
export const CORRECTIONS_SHARE = 0.01;

export type { TrainingDecision } from '../api/contract.js';
type DecisionReason = TrainingDecision['reason'];

export interface LastRound {
  id: number;
  method: string;
  startedAt: number;
  /** Ok photos in the library when the round started. */
  libraryPhotos: number;
}

export function lastRound(db: Db, backboneKey: string): LastRound | null {
  const r = db
    .prepare(`SELECT id, method, started_at, params_json FROM training_runs WHERE status = 'done' AND base_model = ? ORDER BY id DESC LIMIT 1`)
    .get(backboneKey) as { id: number; method: string; started_at: number; params_json: string } | undefined;
  if (!r) return null;
  let params: { libraryPhotos?: number; photos?: number } = {};
  try {
    params = JSON.parse(r.params_json) as typeof params;
  } catch {
    // an unreadable row counts as a round of an unknown size
  }
  return { id: r.id, method: r.method, startedAt: r.started_at, libraryPhotos: params.libraryPhotos ?? params.photos ?? 0 };
}

const plural = (n: number, what: string): string => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;

export function decideTraining(
  db: Db,
  backbone: Encoder,
  opts: { enabled: boolean; force: boolean; method: string },
  now = Date.now(),
): TrainingDecision {
  const d = (train: boolean, reason: DecisionReason, message: string): TrainingDecision => ({ train, reason, message, at: now });
  const photos = embeddings.count(db, embeddings.embeddingKey(backbone.key));
  if (photos < MIN_TRAIN_PHOTOS) return d(false, 'too-few', `Training skipped: ${plural(photos, 'photo')} are too few to learn from (${MIN_TRAIN_PHOTOS} or more)`);
  if (opts.force) return d(true, 'asked', 'Training because you asked for it');
  if (!opts.enabled) return d(false, 'off', 'Training is off in Settings');
  const last = lastRound(db, backbone.key);
  if (!last) return d(true, 'first', 'Training for the first time on this library');
  if (last.method !== opts.method) return d(true, 'method', `Training because the training method changed to ${opts.method}`);
  const fresh = (db.prepare(`SELECT COUNT(*) AS n FROM photos WHERE status = 'ok' AND scanned_at > ?`).get(last.startedAt) as { n: number }).n;
  const base = Math.max(1, last.libraryPhotos || photos - fresh);
  const share = fresh / base;
  if (share >= NEW_PHOTOS_SHARE) return d(true, 'new-photos', `Training because of ${plural(fresh, 'new photo')} since the last training (${pct(share)} of the library)`);
  const corrections = (
    db.prepare(`SELECT COUNT(*) AS n FROM album_members WHERE pinned = 1 AND updated_at > ?`).get(last.startedAt) as { n: number }
  ).n;
  if (corrections >= Math.max(MIN_CORRECTIONS, Math.ceil(CORRECTIONS_SHARE * photos))) {
    return d(true, 'corrections', `Training to learn from ${plural(corrections, 'correction')} since the last training`);
  }
  if (fresh === 0 && corrections === 0) return d(false, 'up-to-date', 'Training skipped: nothing new since the last training');
  const parts = [`${plural(fresh, 'new photo')} since the last training (${pct(share)} of the library)`];
  if (corrections) parts.push(plural(corrections, 'correction'));
  return d(false, 'up-to-date', `Training skipped: ${parts.join(' and ')}`);
}

function pct(x: number): string {
  return x < 0.01 && x > 0 ? `${(100 * x).toFixed(1)}%` : `${Math.round(100 * x)}%`;
}
