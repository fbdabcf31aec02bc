import { describe, expect, it } from 'vitest';
import { UnitFile } from '../../src/unit/unit-file.js';
import { FakeApiError } from './fake-cluster.js';
import { runInProcess } from './in-process.js';
import { fakeCommands, R1, R2, R3, RecordingSsh, threeMachines, unitDirectory } from './support.js';

const HELLO = '[Service]\nExecStart=/bin/sleep 1000\n';
const GLOBAL = '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nGlobal=true\n';
const LOG_PREFIX = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /;

describe('submit, load and start', () => {
  it('start --no-block announces each unit once (fleet printed it twice)', async () => {
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    const result = await runInProcess(['start', '--no-block', 'hello.service'], {
      cluster: threeMachines(),
      cwd,
    });
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'Unit hello.service inactive\nTriggered unit hello.service start\n',
      stderr: '',
    });
  });

  it('start waits for systemd to report the unit active', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['start', 'hello.service'], { cluster, cwd });
    expect(cluster.calls).toContain('unitState hello.service');
  });

  it('start fails when systemd never reports the unit active within the attempts', async () => {
    const cluster = threeMachines();
    cluster.unitState = async () => null;
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    const result = await runInProcess(['start', '--block-attempts=2', 'hello.service'], {
      cluster,
      cwd,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      'Error waiting for units: Failed to find an active unit hello.service within 60ms, err: unit hello.service not found\n' +
        'Error waiting for systemd unit states, err: Failed to find an active unit hello.service within 60ms, err: unit hello.service not found\n',
    );
  });

  it('load announces global units instead of waiting for them', async () => {
    const cwd = await unitDirectory({ 'global.service': GLOBAL });
    const result = await runInProcess(['load', 'global.service'], {
      cluster: threeMachines(),
      cwd,
    });
    expect(result.stdout).toBe('Unit global.service \nTriggered global unit global.service load\n');
  });

  it('warns when a registry unit differs from the local template of its instance', async () => {
    const cluster = threeMachines();
    const first = await unitDirectory({ 'web@.service': HELLO });
    await runInProcess(['submit', 'web@1.service'], { cluster, cwd: first });
    const changed = await unitDirectory({ 'web@.service': GLOBAL });
    const result = await runInProcess(['submit', 'web@1.service'], { cluster, cwd: changed });
    expect(result.stderr).toBe(
      'WARNING: Unit web@1.service in registry differs from local template unit file web@1.service. Add --replace to override.\n',
    );
  });

  it('refuses to replace a unit in a state the command may not replace', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['start', 'hello.service'], { cluster, cwd });
    const changed = await unitDirectory({ 'hello.service': GLOBAL });
    const result = await runInProcess(['submit', '--replace', 'hello.service'], {
      cluster,
      cwd: changed,
    });
    expect(result).toEqual({
      exitCode: 0,
      stdout: '',
      stderr:
        "Warning: can not replace Unit(hello.service) in state 'launched', use the appropriate command\n",
    });
  });

  it('with --replace, fails when there is no local file to compare with', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['submit', 'hello.service'], { cluster, cwd });
    const empty = await unitDirectory({});
    const result = await runInProcess(['submit', '--replace', 'hello.service'], {
      cluster,
      cwd: empty,
    });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'Error creating units: error Unit hello.service does not seem to be a template unit\n',
    });
  });

  it('reports a failed creation with the API error', async () => {
    const cluster = threeMachines();
    cluster.failNext.set('createUnit', new FakeApiError(500, 'boom'));
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    const result = await runInProcess(['submit', 'hello.service'], { cluster, cwd });
    expect(result.stderr).toBe(
      'Error creating units: failed creating unit hello.service: googleapi: Error 500: boom\n',
    );
    expect(result.exitCode).toBe(1);
  });

  it('refuses a unit name no file can have before sending anything (deviation, vector name-len-256)', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'web@.service': HELLO });
    const instance = `web@${'a'.repeat(244)}.service`;
    const result = await runInProcess(['start', instance], { cluster, cwd });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Error creating units: unit name exceeds maximum file name length (255 bytes)\n',
    });
    expect(cluster.calls).toEqual([]);
  });

  it('refuses the deprecated --sign', async () => {
    const result = await runInProcess(['submit', '--sign', 'x.service'], {
      cluster: threeMachines(),
    });
    expect(result).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'WARNING: The signed/verified units feature is DEPRECATED and cannot be used.\n',
    });
  });
});

describe('stop and unload', () => {
  it('stop --no-block only triggers', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['start', 'hello.service'], { cluster, cwd });
    const result = await runInProcess(['stop', '--no-block', 'hello.service'], { cluster, cwd });
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'Triggered unit hello.service stop\n',
      stderr: 'Successfully stopped units [hello.service].\n',
    });
  });

  it('reports a stop that does not complete within the attempts', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['start', 'hello.service'], { cluster, cwd });
    cluster.setUnitTargetState = async () => {};
    const result = await runInProcess(['stop', '--block-attempts=1', 'hello.service'], {
      cluster,
      cwd,
    });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'Error waiting for units: timed out waiting for unit hello.service to report state loaded\n' +
        'Failed to stop units [hello.service]. err: timed out waiting for unit hello.service to report state loaded\n',
    });
  });

  it('unload skips units already inactive and lists none', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['submit', 'hello.service'], { cluster, cwd });
    const result = await runInProcess(['unload', 'hello.service'], { cluster, cwd });
    expect(result).toEqual({
      exitCode: 0,
      stdout: '',
      stderr: 'Successfully unloaded units [].\n',
    });
  });
});

describe('destroy', () => {
  it('waits until the unit is gone from the registry', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['submit', 'hello.service'], { cluster, cwd });
    cluster.calls.length = 0;
    const result = await runInProcess(['destroy', 'hello.service'], { cluster, cwd });
    expect(result.stdout).toBe('Destroyed hello.service\n');
    expect(cluster.calls).toEqual(['units', 'destroyUnit hello.service', 'unit hello.service']);
  });

  it('does not wait with --no-block', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['submit', 'hello.service'], { cluster, cwd });
    cluster.calls.length = 0;
    await runInProcess(['destroy', '--no-block', 'hello.service'], { cluster, cwd });
    expect(cluster.calls).toEqual(['units', 'destroyUnit hello.service']);
  });

  it('reports other errors and carries on with the rest', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'a.service': HELLO, 'b.service': HELLO });
    await runInProcess(['submit', 'a.service', 'b.service'], { cluster, cwd });
    cluster.failNext.set('destroyUnit', new FakeApiError(500, 'etcd is gone'));
    const result = await runInProcess(['destroy', 'a.service', 'b.service'], { cluster, cwd });
    expect(result).toEqual({
      exitCode: 1,
      stdout: 'Destroyed b.service\n',
      stderr: 'Error destroying units: googleapi: Error 500: etcd is gone\n',
    });
  });
});

describe('restart', () => {
  it('stops a launched unit, waits for loaded, then starts it again', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['start', 'hello.service'], { cluster, cwd });
    const result = await runInProcess(['restart', 'hello.service'], { cluster, cwd });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(
      `Unit hello.service loaded on ${R1.slice(0, 8)}.../127.0.0.1\n` +
        `Unit hello.service launched on ${R1.slice(0, 8)}.../127.0.0.1\n`,
    );
    expect(result.stderr.replace(LOG_PREFIX, '')).toBe(
      'INFO restart.ts: Unit(hello.service) was restarted.\n',
    );
  });

  it('restarts a global unit with systemctl on every machine reporting it', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'global.service': GLOBAL });
    await runInProcess(['start', 'global.service'], { cluster, cwd });
    const ssh = new RecordingSsh();
    const bin = await fakeCommands();
    const result = await runInProcess(['restart', 'global.service'], {
      cluster,
      cwd,
      ssh,
      localMachineId: R2,
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(result.exitCode).toBe(0);
    expect(ssh.connections.map((c) => c.address)).toEqual(['127.0.0.1:22', '127.0.0.1:22']);
    expect(ssh.executed).toEqual([
      'systemctl "restart" "global.service"',
      'systemctl "restart" "global.service"',
    ]);
    expect(result.stdout).toContain('systemctl restart global.service\n');
  });
});

describe('list commands', () => {
  it('list-unit-files shows every field, and warns about tmachine', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({
      'hello.service': `[Unit]\nDescription=Hi\n\n${HELLO}`,
      'global.service': GLOBAL,
    });
    await runInProcess(['start', 'hello.service', 'global.service'], { cluster, cwd });
    const result = await runInProcess(
      ['list-unit-files', '--no-legend', '--fields=unit,global,desc,state,tmachine'],
      { cluster },
    );
    expect(result).toEqual({
      exitCode: 0,
      stdout:
        'global.service\ttrue\t-\t-\t\tglobal\n' +
        `hello.service\tfalse\tHi\tlaunched\t${R1.slice(0, 8)}.../127.0.0.1\n`,
      stderr: 'WARNING: The "tmachine" field is deprecated. Use "target" instead\n',
    });
  });

  it('list-units shows a machine it does not know without its address', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    await runInProcess(['start', 'hello.service'], { cluster, cwd });
    cluster.machineList.splice(0, 1);
    const hash = UnitFile.parse(HELLO).hash;
    const short = await runInProcess(['list-units', '--fields=machine,hash'], { cluster });
    expect(short.stdout).toBe(`MACHINE\t\tHASH\n${R1.slice(0, 8)}...\t${hash.slice(0, 7)}\n`);
    const full = await runInProcess(['list-units', '--full', '--fields=machine,hash'], {
      cluster,
    });
    expect(full.stdout).toBe(`MACHINE\t\t\t\t\tHASH\n${R1}\t${hash}\n`);
  });

  it('list-machines explains a failed read', async () => {
    const cluster = threeMachines();
    cluster.failNext.set('machines', new Error('connection refused'));
    const result = await runInProcess(['list-machines'], { cluster });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'Error retrieving list of active machines from fleet API (connection refused)\n' +
        'Possible issues:\n' +
        '  etcd is unhealthy and/or lost quorum\n' +
        '  connection cannot be established to any etcd servers\n',
    });
  });

  it('list-machines shows metadata operators as they are and a missing IP as -', async () => {
    const cluster = threeMachines();
    cluster.machineList.length = 1;
    cluster.machineList[0] = { id: 'abc', metadata: { b: '>=2', a: 'x' } };
    const result = await runInProcess(['list-machines'], { cluster });
    expect(result.stdout).toBe('MACHINE\tIP\tMETADATA\nabc...\t-\ta=x,b>=2\n');
  });

  it('list-units reports a failed read', async () => {
    const cluster = threeMachines();
    cluster.failNext.set('unitStates', new Error('timeout'));
    const result = await runInProcess(['list-units'], { cluster });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Error retrieving list of units from repository: timeout\n',
    });
  });
});

describe('cat', () => {
  it('needs exactly one unit and a unit that exists', async () => {
    const cluster = threeMachines();
    expect(await runInProcess(['cat'], { cluster })).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'One unit file must be provided\n',
    });
    expect(await runInProcess(['cat', 'nope'], { cluster })).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Unit nope.service not found\n',
    });
  });
});

describe('status and journal', () => {
  it('status runs systemctl here when the unit runs on this machine', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'a.service': HELLO, 'b.service': HELLO });
    await runInProcess(['start', 'a.service', 'b.service'], { cluster, cwd });
    const bin = await fakeCommands();
    const result = await runInProcess(['status', 'a.service', 'b'], {
      cluster,
      localMachineId: R1,
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'systemctl status -l a.service\n\nsystemctl status -l b.service\n',
      stderr: '',
    });
  });

  it('status stops at the first failing unit with its exit status', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'a.service': HELLO });
    await runInProcess(['start', 'a.service'], { cluster, cwd });
    const bin = await fakeCommands();
    const result = await runInProcess(['status', 'a.service', 'a.service'], {
      cluster,
      localMachineId: R1,
      env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_EXIT: '3' },
    });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe('systemctl status -l a.service\n');
  });

  it('status of a remote unit runs over SSH with quoted arguments on --ssh-port', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'a.service': HELLO });
    await runInProcess(['start', 'a.service'], { cluster, cwd });
    const ssh = new RecordingSsh(4);
    const result = await runInProcess(
      ['--ssh-username', 'admin', 'status', '--ssh-port', '2222', 'a.service'],
      { cluster, ssh, localMachineId: R2 },
    );
    expect(result.exitCode).toBe(4);
    expect(ssh.executed).toEqual(['systemctl "status" "-l" "a.service"']);
    expect(ssh.connections[0]).toMatchObject({ address: '127.0.0.1:2222', user: 'admin' });
  });

  it('journal builds journalctl from its flags', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'a.service': HELLO });
    await runInProcess(['start', 'a.service'], { cluster, cwd });
    const bin = await fakeCommands();
    const result = await runInProcess(
      ['journal', '--lines=5', '--output', 'json', '--sudo', '--follow', 'a'],
      { cluster, localMachineId: R1, env: { PATH: `${bin}:/usr/bin:/bin` } },
    );
    expect(result.stdout).toBe(
      'sudo journalctl --unit a.service --no-pager -n 5 --output json -f\n',
    );
  });

  it('journal refuses global units', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'global.service': GLOBAL });
    await runInProcess(['start', 'global.service'], { cluster, cwd });
    const result = await runInProcess(['journal', 'global.service'], { cluster });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Unable to retrieve journal of global unit global.service.\n',
    });
  });
});

describe('ssh', () => {
  it('refuses --machine together with --unit', async () => {
    const result = await runInProcess(['ssh', '--machine', 'a', '--unit', 'b'], {
      cluster: threeMachines(),
    });
    expect(result.stderr).toBe('Both machine and unit flags provided, please specify only one.\n');
    expect(result.exitCode).toBe(1);
  });

  it('surfaces lookup errors with --machine and --unit', async () => {
    const cluster = threeMachines();
    const both = await runInProcess(['ssh', '--machine', ''], { cluster });
    expect(both.stderr).toBe('Unable to proceed: one machine or unit must be provided\n');
    const unknown = await runInProcess(['ssh', '--machine', 'f'], { cluster });
    expect(unknown.stderr).toBe('Unable to proceed: machine does not exist\n');
    cluster.machineList.push({ id: `${R1.slice(0, 4)}ffff`, primaryIP: '10.0.0.9' });
    const many = await runInProcess(['ssh', '--machine', R1.slice(0, 4)], { cluster });
    expect(many.stderr).toBe('Unable to proceed: found more than one machine\n');
    const missing = await runInProcess(['ssh', '--unit', 'nope'], { cluster });
    expect(missing.stderr).toBe('Unable to proceed: unit does not exist\n');
  });

  it('runs the remaining arguments on the machine found by ID prefix', async () => {
    const ssh = new RecordingSsh(7);
    const result = await runInProcess(['ssh', R3.slice(0, 4), '--', 'ls', '-l'], {
      cluster: threeMachines(),
      ssh,
    });
    expect(result.exitCode).toBe(7);
    expect(ssh.executed).toEqual(['ls -l']);
    expect(ssh.connections[0]).toMatchObject({ address: '127.0.0.1:22', agentForwarding: false });
  });

  it('opens a shell with agent forwarding when asked', async () => {
    const ssh = new RecordingSsh();
    const result = await runInProcess(['ssh', '--forward-agent', '--machine', R2], {
      cluster: threeMachines(),
      ssh,
    });
    expect(result.exitCode).toBe(0);
    expect(ssh.executed).toEqual(['<shell>']);
    expect(ssh.connections[0]?.agentForwarding).toBe(true);
  });

  it('says which lookup is ambiguous when a name is both a machine and a unit', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ '0a.service': HELLO });
    await runInProcess(['start', '0a.service'], { cluster, cwd });
    const both = await runInProcess(['ssh', '0a'], { cluster });
    expect(both.stderr).toBe(
      'Unable to proceed: ambiguous argument, both machine and unit found for `0a`.\nPlease use flag `-m` or `-u` to refine the search\n',
    );
  });
});

describe('client construction', () => {
  it('reports bad endpoints with Go URL parser words', async () => {
    const cases: [string, string][] = [
      ['127.0.0.1:1', 'parse "127.0.0.1:1": first path segment in URL cannot contain colon'],
      ['localhost', 'URL scheme undefined'],
      ['http://host:port', 'parse "http://host:port": invalid port ":port" after host'],
      [':8080', 'parse ":8080": missing protocol scheme'],
    ];
    for (const [endpoint, message] of cases) {
      const result = await runInProcess(['--endpoint', endpoint, 'list-units']);
      expect(result).toEqual({
        exitCode: 1,
        stdout: '',
        stderr: `Unable to initialize client: ${message}\n`,
      });
    }
  });

  it('checks the driver and TLS files even for version', async () => {
    expect(await runInProcess(['--driver', 'bogus', 'version'])).toMatchObject({
      exitCode: 1,
      stderr: 'Unable to initialize client: unrecognized driver "bogus"\n',
    });
    expect(await runInProcess(['--ca-file', '/nonexistent/ca.pem', 'version'])).toMatchObject({
      exitCode: 1,
      stderr: 'Unable to initialize client: open /nonexistent/ca.pem: no such file or directory\n',
    });
  });

  it('uses only the first of several API endpoints, and says so', async () => {
    const result = await runInProcess(['--endpoint', 'http://a:1,http://b:2', 'list-units'], {
      cluster: threeMachines(),
    });
    expect(result.stderr.replace(LOG_PREFIX, '')).toBe(
      'WARN create-client.ts: multiple endpoints provided but only the first (http://a:1) is used\n',
    );
  });

  it('warns when the etcd driver finds a newer fleetd in the cluster', async () => {
    const result = await runInProcess(['--driver', 'etcd', 'list-machines', '--no-legend'], {
      cluster: threeMachines(),
      daemonVersions: ['0.0.0+wasnotbuiltproperly', '9.1.0', 'garbage'],
    });
    expect(result.stderr).toBe(
      `${'#'.repeat(68)}\nWARNING: fleetctl (1.0.0) is older than the latest registered\n` +
        'version of fleet found in the cluster (9.1.0). You are strongly\n' +
        `recommended to upgrade fleetctl to prevent incompatibility issues.\n${'#'.repeat(68)}\n`,
    );
    expect(result.exitCode).toBe(0);
  });

  it('takes --experimental-api=false as the etcd driver', async () => {
    const result = await runInProcess(['--experimental-api=false', 'list-machines'], {
      cluster: threeMachines(),
      daemonVersions: ['99.0.0'],
    });
    expect(result.stderr).toContain('(99.0.0)');
  });

  it('needs an ssh-agent for --tunnel', async () => {
    const result = await runInProcess(['--tunnel', 'bastion', 'list-units']);
    expect(result.stderr).toBe(
      'Unable to initialize client: failed initializing SSH client: SSH_AUTH_SOCK environment variable is not set. Verify ssh-agent is running. See https://github.com/coreos/fleet/blob/master/Documentation/using-the-client.md for help.\n',
    );
  });

  it('logs debug lines with --debug and with FLEETCTL_DEBUG', async () => {
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    for (const [argv, env] of [
      [['--debug', 'submit', 'hello.service'], {}],
      [['submit', 'hello.service'], { FLEETCTL_DEBUG: '1' }],
    ] as const) {
      const result = await runInProcess([...argv], { cluster: threeMachines(), cwd, env });
      expect(result.stderr).toMatch(
        / DEBUG lazy-create\.ts: Created Unit\(hello\.service\) in Registry\n/,
      );
    }
  });
});
