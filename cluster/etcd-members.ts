// Control of a cluster's multi-member etcd (ClusterOptions.etcdMembers): which member leads,
// moving leadership, and stopping, killing or restarting members. See docs/cluster.md.
import {
  CommandError,
  type EtcdMember,
  type EtcdMemberStatus,
  etcdctlIn,
  etcdMemberStatus,
  type Network,
} from '../harness/index.js';
import { type WaitOptions, waitFor } from './api.js';

export class EtcdMembers {
  constructor(
    private readonly network: Network,
    readonly members: readonly EtcdMember[],
  ) {}

  /** A member by name (`fleetfn2`) or position from 1; the member itself passes through. */
  member(which: EtcdMember | string | number): EtcdMember {
    if (typeof which === 'object') return which;
    const m =
      typeof which === 'number'
        ? this.members[which - 1]
        : this.members.find((x) => x.name === which);
    if (m === undefined) throw new Error(`no etcd member ${which}`);
    return m;
  }

  running(): EtcdMember[] {
    return this.members.filter((m) => m.running);
  }

  /**
   * Until the running members agree on one leader (each reports the same leader term and
   * exactly one says it leads); that leader's status.
   */
  leader(opts: WaitOptions = {}): Promise<EtcdMemberStatus> {
    return waitFor(
      'one etcd leader that every running member follows',
      async () => {
        const statuses = await etcdMemberStatus(this.network, this.members);
        const leaders = statuses.filter((s) => s.isLeader);
        const terms = new Set(statuses.map((s) => s.raftTerm));
        if (statuses.length !== this.running().length || leaders.length !== 1 || terms.size !== 1) {
          throw new Error(`no agreed leader: ${JSON.stringify(statuses.map(describe))}`);
        }
        return leaders[0]!;
      },
      () => true,
      { timeoutMs: 30_000, ...opts },
    );
  }

  /**
   * `etcdctl move-leader` to `to` (default: the next running member after the leader), sent
   * to the leader as etcd requires; resolves with the new leader once every member sees it.
   */
  async moveLeader(to?: EtcdMember | string | number): Promise<EtcdMemberStatus> {
    const current = await this.leader();
    const running = this.running();
    const target =
      to === undefined
        ? running[(running.indexOf(current.member) + 1) % running.length]!
        : this.member(to);
    if (target === current.member) throw new Error(`${target.name} already leads`);
    const statuses = await etcdMemberStatus(this.network, [target]);
    const targetId = statuses[0]?.id;
    if (targetId === undefined) throw new Error(`etcd member ${target.name} does not answer`);
    const r = await etcdctlIn(this.network, [current.member.endpoint], ['move-leader', targetId]);
    if (r.code !== 0) throw new CommandError(r);
    return waitFor(
      `${target.name} leading etcd`,
      () => this.leader(),
      (s) => s.member === target,
      { timeoutMs: 30_000 },
    );
  }

  /** SIGKILL to the member that leads; resolves with it once the others elected another. */
  async killLeader(): Promise<EtcdMember> {
    const { member } = await this.leader();
    await member.kill();
    await this.leader();
    return member;
  }

  /** Graceful stop of every member (in order), then nothing answers. */
  async stopAll(): Promise<void> {
    for (const m of this.members) await m.stop();
  }

  /** Starts every stopped member at once and waits until all answer. */
  async startAll(opts: WaitOptions = {}): Promise<void> {
    const stopped = this.members.filter((m) => !m.running);
    for (const m of stopped) await m.start({ wait: false });
    await Promise.all(this.members.map((m) => m.waitHealthy(opts.timeoutMs ?? 30_000)));
  }

  /** Graceful stop and start of one member, waiting until it answers again. */
  async restart(which: EtcdMember | string | number, opts: WaitOptions = {}): Promise<void> {
    const m = this.member(which);
    await m.stop();
    await m.start({ timeoutMs: opts.timeoutMs ?? 30_000 });
  }
}

function describe(s: EtcdMemberStatus): string {
  return `${s.member.name} ${s.id} term ${s.raftTerm}${s.isLeader ? ' leader' : ''}`;
}
