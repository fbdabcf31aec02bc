import { z } from 'zod';
import { JOB_STATES } from '../job/types.js';

/**
 * The JSON values stored in etcd. Every value read back goes through these schemas: etcd
 * is shared with other fleetd versions and with operators' etcdctl, so a value may be
 * anything, and a bad one is reported and skipped, never trusted.
 */

const hash = z.string().regex(/^[0-9a-f]{40}$/, 'expected a 40-digit hex SHA-1');
const jobState = z.enum(JOB_STATES);

/** `units/<name>`: what a user submitted and wants. */
export const unitRecordSchema = z.object({
  name: z.string().min(1),
  hash,
  desiredState: jobState,
});
export type UnitRecord = z.infer<typeof unitRecordSchema>;

/** `schedule/<machine>/<name>` and `global/<name>`: what an agent runs, and in which state. */
export const scheduleEntrySchema = z.object({
  hash,
  desiredState: jobState,
});
export type ScheduleEntry = z.infer<typeof scheduleEntrySchema>;

/** `machines/<id>`: a live machine, as its fleetd registered it. */
export const machineRecordSchema = z.object({
  id: z.string().min(1),
  publicIP: z.string(),
  metadata: z.record(z.string(), z.string()),
  capabilities: z.object({ disableEngine: z.boolean() }),
  version: z.string(),
  /** Identifies the fleetd process that registered; see docs/registry.md. */
  sessionToken: z.string(),
  /**
   * Ours: `host:port` of the machine's peer listener, which serves its units' status and
   * journal to other fleetds; absent when it has none. Never shown in `/fleet/v1/machines`.
   */
  peerAddress: z.string().optional(),
});
export type MachineRecord = z.infer<typeof machineRecordSchema>;

/** `states/<name>/<machine>`: what systemd reports for a unit on one machine. */
export const unitStateRecordSchema = z.object({
  loadState: z.string(),
  activeState: z.string(),
  subState: z.string(),
  hash,
  /** The agent has asked systemd to start the unit (fleet's `job-state` heartbeat). */
  launched: z.boolean(),
});
export type UnitStateRecord = z.infer<typeof unitStateRecordSchema>;

/** `engine/leader`: the machine whose engine schedules. */
export const leaderRecordSchema = z.object({ machineID: z.string().min(1) });
export type LeaderRecord = z.infer<typeof leaderRecordSchema>;

/** One drain: where it stands, rewritten by the engine leader as units move. */
export const drainRecordSchema = z.object({
  maxParallel: z.number().int().positive(),
  /** Units moved away that do not run at their new place yet, in the order they moved. */
  moving: z.array(z.string()),
  /** Units that moved and arrived, in the order they arrived. */
  moved: z.array(z.string()),
  /** Units that cannot move, by name, and why. */
  stayed: z.array(z.object({ name: z.string(), reason: z.string() })),
  /** Nothing left to move and nothing under way. */
  done: z.boolean(),
});
export type DrainRecord = z.infer<typeof drainRecordSchema>;

/** `cordons/<machine>`: the machine takes no new units; with a drain, it is being emptied. */
export const cordonRecordSchema = z.object({ drain: drainRecordSchema.nullable() });
export type CordonRecord = z.infer<typeof cordonRecordSchema>;

/** Where one unit on one machine stands in a rollout. */
export const ROLLOUT_PHASES = [
  'waiting',
  'updating',
  'healthy',
  'reverted',
  'failed',
  'lost',
] as const;
export const rolloutStepSchema = z.object({
  unit: z.string().min(1),
  machineID: z.string().min(1),
  phase: z.enum(ROLLOUT_PHASES),
  /** When its machine was told to run the new content (ms since the epoch, leader's clock). */
  startedAt: z.number().optional(),
  /** Since when the leader has seen it active with the new content. */
  activeSince: z.number().optional(),
  /** Why it failed, was reverted or lost. */
  reason: z.string().optional(),
});
export type RolloutStep = z.infer<typeof rolloutStepSchema>;

export const ROLLOUT_STATUSES = ['running', 'paused', 'completed', 'failed', 'aborted'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

/** `rollouts/<id>`: one rolling update, rewritten by the engine leader as it goes. */
export const rolloutRecordSchema = z.object({
  id: z.string().min(1),
  createdAt: z.number(),
  units: z.array(z.object({ name: z.string().min(1), oldHash: hash, newHash: hash })).min(1),
  maxParallel: z.number().int().positive(),
  minHealthyMs: z.number().int().nonnegative(),
  healthyDeadlineMs: z.number().int().positive(),
  autoRevert: z.boolean(),
  /** Steps to make healthy before pausing for `resume`; 0: no canary. */
  canary: z.number().int().nonnegative(),
  canaryPassed: z.boolean(),
  healthCmd: z.string().nullable(),
  status: z.enum(ROLLOUT_STATUSES),
  steps: z.array(rolloutStepSchema),
  message: z.string(),
});
export type RolloutRecord = z.infer<typeof rolloutRecordSchema>;

/**
 * `rollout-pins/<machine>/<name>`: the content that machine runs while a rollout holds it, and
 * while the step updates, the health command its agent runs once the unit is active.
 */
export const rolloutPinSchema = z.object({
  hash,
  rollout: z.string().min(1),
  healthCmd: z.string().min(1).optional(),
});
export type RolloutPin = z.infer<typeof rolloutPinSchema>;

/** `rollout-health/<machine>/<name>`: how the pin's health command last ended there. */
export const rolloutHealthSchema = z.object({ rollout: z.string().min(1), hash, ok: z.boolean() });
export type RolloutHealth = z.infer<typeof rolloutHealthSchema>;

export class RecordDecodeError extends Error {
  override name = 'RecordDecodeError';
}

/** Parses a stored JSON value; the error names the key and what is wrong with it. */
export function decodeRecord<T>(schema: z.ZodType<T>, key: string, value: string): T {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new RecordDecodeError(`value of ${key} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new RecordDecodeError(`value of ${key} is invalid${where}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

export function encodeRecord(record: object): string {
  return JSON.stringify(record);
}
