import type { LeaderFence, Revision } from './model.js';

/** What a fence proves: the create revision of the leader key its engine created. */
interface FenceContent {
  readonly createRevision: Revision;
}

/** The fence of a leadership won when the leader key was created at `createRevision`. */
export function leaderFence(createRevision: Revision): LeaderFence {
  const content: FenceContent = { createRevision };
  return content as unknown as LeaderFence;
}

/** The leader key's create revision a fence holds the writes to. */
export function fenceRevision(fence: LeaderFence): Revision {
  return (fence as unknown as FenceContent).createRevision;
}
