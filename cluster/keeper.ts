// The keeper of a detached cluster: started (detached, in its own session) by `up`, it builds
// the cluster on the harness, records it in the state directory and then stays alive as the
// harness's owner until `down`, a signal, or the cluster vanishing under it (`clean.sh --all`).
//
//   node --import ./cluster/register.mjs cluster/keeper.ts <state dir>
//
// The request comes from <state dir>/request.json (written by `up`).
import { existsSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { NETNS_DIR, teardownSync } from '../harness/state.js';
import {
  Cluster,
  type ClusterMachine,
  type ClusterOptions,
  conformanceOptions,
} from './cluster.js';
import { type DashboardForward, forwardDashboard } from './dashboard-forwarder.js';
import {
  type ClusterState,
  type ControlReply,
  type ControlRequest,
  type MachineState,
  processStart,
  STATE_VERSION,
  type UpRequest,
  writeState,
} from './detached.js';
import { ClusterPki } from './pki.js';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: keeper.ts <state dir>\n');
  process.exit(2);
}
const stateDir: string = dir;
const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

const request = JSON.parse(readFileSync(join(stateDir, 'request.json'), 'utf8')) as UpRequest;
const state: ClusterState = {
  version: STATE_VERSION,
  cluster: request.cluster,
  status: 'starting',
  keeper: { pid: process.pid, start: processStart(process.pid) ?? '' },
  machines: [],
  createdAt: new Date().toISOString(),
};
writeState(stateDir, state);

let cluster: Cluster | undefined;
let server: Server | undefined;
let dashboard: DashboardForward | undefined;
let leaving = false;

/** Removes everything (synchronously, as from a signal handler) and exits. */
function leave(code: number, why: string): never {
  leaving = true;
  log(`leaving: ${why}`);
  server?.close();
  dashboard?.relay.kill();
  teardownSync();
  rmSync(stateDir, { recursive: true, force: true });
  process.exit(code);
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(sig, () => leave(0, `received ${sig}`));
}

function machineState(m: ClusterMachine): MachineState {
  return {
    name: m.name,
    id: m.id,
    ip: m.ip,
    pid: m.pid,
    pidStart: m.host.tracked.startTime,
    index: m.index,
    metadata: m.metadata.map(([k, v]) => [k, v]),
    publicIp: m.publicIp ?? m.ip,
    endpoint: m.endpoint,
    tlsEndpoint: m.tlsEndpoint,
    ...(m.certificate !== undefined && {
      certificate: { cert: m.certificate.cert, key: m.certificate.key },
    }),
  };
}

function record(): void {
  if (cluster === undefined) return;
  const killed = new Set(state.machines.filter((m) => m.killed).map((m) => m.name));
  state.machines = [...cluster.machines.values()].map((m) => ({
    ...machineState(m),
    ...(killed.has(m.name) && { killed: true }),
  }));
  writeState(stateDir, state);
}

async function handle(req: ControlRequest): Promise<ControlReply> {
  switch (req.op) {
    case 'ping':
      return { ok: true };
    case 'kill': {
      const m = cluster?.machines.get(req.machine ?? '');
      if (m === undefined) return { ok: false, error: `no machine ${req.machine}` };
      if (!m.alive) return { ok: false, error: `machine ${m.name} is not running` };
      await cluster!.kill(m);
      const s = state.machines.find((x) => x.name === m.name);
      if (s !== undefined) s.killed = true;
      record();
      log(`killed ${m.name}`);
      return { ok: true };
    }
    case 'down':
      // Answer first; the CLI then waits for this process to go.
      setImmediate(() => {
        void (async () => {
          log('down requested');
          await cluster?.destroy().catch((e: unknown) => log(`destroy: ${String(e)}`));
          leave(0, 'down');
        })();
      });
      return { ok: true };
    default:
      return { ok: false, error: `unknown request ${JSON.stringify(req)}` };
  }
}

function listen(): Server {
  const path = join(stateDir, 'control.sock');
  if (existsSync(path)) unlinkSync(path);
  const s = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = JSON.parse(buffer.slice(0, nl)) as ControlRequest;
      } catch {
        socket.end(`${JSON.stringify({ ok: false, error: 'bad request' })}\n`);
        return;
      }
      handle(req).then(
        (reply) => socket.end(`${JSON.stringify(reply)}\n`),
        (e: unknown) => socket.end(`${JSON.stringify({ ok: false, error: String(e) })}\n`),
      );
    });
  });
  s.listen(path);
  return s;
}

/** The cluster was removed under us (`clean.sh --all`, or by hand): nothing left to keep. */
function watchForRemoval(c: Cluster): void {
  const timer = setInterval(() => {
    if (leaving) return;
    if (!existsSync(join(NETNS_DIR, c.network.netns)) || !existsSync(c.network.stateDir)) {
      clearInterval(timer);
      leave(0, `the harness network ${c.network.netns} is gone`);
    }
  }, 1_000);
}

/**
 * `up --secure`: an admin client certificate and an operate token for the user, and the access
 * file every machine gets to grant them.
 */
function secureApi(pki: ClusterPki): { accessFile: string } {
  const admin = pki.client('cluster-admin');
  const token = pki.token('cluster-operator');
  state.secure = { cert: admin.cert, key: admin.key, tokenFile: token.file };
  const access = {
    certificates: [{ subject: admin.subject, role: 'admin' }],
    tokens: [{ name: 'cluster-operator', sha256: token.sha256, role: 'operate' }],
  };
  return { accessFile: `${JSON.stringify(access, null, 2)}\n` };
}

async function main(): Promise<void> {
  const pki = ClusterPki.create(join(stateDir, 'pki'));
  state.pki = { dir: pki.dir, ca: pki.ca.cert };
  const options: ClusterOptions = request.conformance
    ? conformanceOptions()
    : {
        name: request.cluster,
        machines: request.machines,
        metadata: request.metadata,
        hostnameMetadata: request.hostnameMetadata,
        ...(request.publicIp !== undefined && { publicIp: request.publicIp }),
      };
  if (request.conformance) options.name = request.cluster;
  log(`starting cluster ${request.cluster}: ${JSON.stringify(options)}`);
  options.pki = pki;
  if (request.secure === true) options.secure = secureApi(pki);
  cluster = await Cluster.start(options);
  server = listen();
  state.status = 'up';
  state.harness = {
    id: cluster.network.id,
    netns: cluster.network.netns,
    stateDir: cluster.network.stateDir,
    subnet: cluster.network.subnet,
  };
  state.etcd = cluster.etcdEndpoint;
  state.keyPrefix = cluster.keys.prefix;
  state.conformance = request.conformance;
  const first = [...cluster.machines.values()][0];
  if (request.secure === true && state.secure !== undefined && first !== undefined) {
    dashboard = await forwardDashboard(cluster.network.netns, first.tlsEndpoint);
    state.secure.dashboard = dashboard.address;
  }
  record();
  log(`cluster ${request.cluster} is up (harness ${cluster.network.netns})`);
  watchForRemoval(cluster);
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  state.status = 'failed';
  state.error = e instanceof Error ? e.message : String(e);
  writeState(stateDir, state);
  teardownSync();
  process.exit(1);
});
