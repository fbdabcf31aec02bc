import { quoteString } from '../go/text.js';
import type { UnitFile } from '../unit/unit-file.js';
import { isJobState, type JobState } from './types.js';

/** A unit submitted to fleet: its name, its content and the state the user wants it in. */
export interface Job {
  name: string;
  unit: UnitFile;
  targetState: JobState;
}

export class InvalidJobStateError extends Error {
  override name = 'InvalidJobStateError';
}

/** Parses a desired state; the message is the original's `ParseJobState` text. */
export function parseJobState(value: string): JobState {
  if (isJobState(value)) return value;
  throw new InvalidJobStateError(`invalid value ${quoteString(value)} for JobState`);
}
