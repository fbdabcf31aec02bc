import { DEFAULT_KEY_PREFIX } from '../../config/defaults.js';
import {
  boolFlag,
  type FlagSpec,
  floatFlag,
  hiddenStringFlag,
  intFlag,
  stringFlag,
  trueFlag,
} from './flags.js';

/**
 * fleetctl's command tree as fleet v1.0 declared it to cobra: names, usage lines, help texts
 * and flags. The help output of the root, `start` and `list-units` is recorded in the
 * conformance transcript; the other texts are fleet's own from its sources.
 */

export const CLI_NAME = 'fleetctl';
const CLI_DESCRIPTION =
  'fleetctl is a command-line interface to fleet, the cluster-wide CoreOS init system.';

export const DEFAULT_ENDPOINT = 'unix:///var/run/fleet.sock';
const DEFAULT_KNOWN_HOSTS_FILE = '~/.fleetctl/known_hosts';

export interface CommandSpec {
  name: string;
  /** cobra's `Use`: the name and its arguments. */
  use: string;
  short: string;
  long: string;
  /** cobra's `Deprecated`: announced on stderr before the command runs. */
  deprecated?: string;
  /** Local flags; the root's are the persistent ones every command inherits. */
  flags: readonly FlagSpec[];
  /** A command of ours, not fleet's: it joins the recorded root help (docs/fleetctl.md). */
  ours?: true;
}

const TLS_USAGE = 'used to secure communication with the fleet API or etcd';
const DEPRECATED_FLAG = 'DEPRECATED: do not use this flag.';
const HELP_USAGE = 'Print usage information and exit';

export const ROOT: CommandSpec = {
  name: CLI_NAME,
  use: CLI_NAME,
  short: CLI_DESCRIPTION,
  long: '',
  flags: [
    boolFlag('help', HELP_USAGE),
    boolFlag('h', HELP_USAGE, 'help'),
    boolFlag('debug', 'Print out more debug information to stderr'),
    boolFlag('version', 'Print the version and exit'),
    stringFlag(
      'driver',
      'API',
      'Adapter used to execute fleetctl commands. Options include "API" and "etcd".',
    ),
    stringFlag(
      'endpoint',
      DEFAULT_ENDPOINT,
      'Location of the fleet API if --driver=API. Alternatively, if --driver=etcd, location of the etcd API.',
    ),
    stringFlag(
      'etcd-key-prefix',
      DEFAULT_KEY_PREFIX,
      'Keyspace for fleet data in etcd (development use only!)',
    ),
    stringFlag('key-file', '', `Location of TLS key file ${TLS_USAGE}`),
    stringFlag('cert-file', '', `Location of TLS cert file ${TLS_USAGE}`),
    stringFlag('ca-file', '', `Location of TLS CA file ${TLS_USAGE}`),
    stringFlag(
      'known-hosts-file',
      DEFAULT_KNOWN_HOSTS_FILE,
      'File used to store remote machine fingerprints. Ignored if strict host key checking is disabled.',
    ),
    trueFlag(
      'strict-host-key-checking',
      'Verify host keys presented by remote machines before initiating SSH connections.',
    ),
    floatFlag(
      'ssh-timeout',
      10,
      'Amount of time in seconds to allow for SSH connection initialization before failing.',
    ),
    stringFlag(
      'tunnel',
      '',
      'Establish an SSH tunnel through the provided address for communication with fleet and etcd.',
    ),
    floatFlag(
      'request-timeout',
      3,
      'Amount of time in seconds to allow a single request before considering it failed.',
    ),
    stringFlag('ssh-username', 'core', 'Username to use when connecting to CoreOS instance.'),
    trueFlag('experimental-api', DEPRECATED_FLAG),
    stringFlag('etcd-keyfile', '', DEPRECATED_FLAG, 'key-file'),
    stringFlag('etcd-certfile', '', DEPRECATED_FLAG, 'cert-file'),
    stringFlag('etcd-cafile', '', DEPRECATED_FLAG, 'ca-file'),
    hiddenStringFlag(
      'token-file',
      'File holding the bearer token sent to the fleet API (also FLEETCTL_TOKEN_FILE)',
    ),
  ],
};

const SIGN = boolFlag('sign', 'DEPRECATED - this option cannot be used');
const NO_LEGEND = boolFlag('no-legend', 'Do not print a legend (column headers)');
const FULL = boolFlag('full', 'Do not ellipsize fields on output');
const FULL_SHORTHAND = boolFlag('l', 'Shorthand for --full', 'full');
const SSH_PORT = intFlag('ssh-port', 22, 'Connect to remote hosts over SSH using this TCP port.');
/** Ours (`status`, `journal`): the one machine to ask about a global unit. */
const ON_MACHINE = stringFlag(
  'machine',
  '',
  'Machine ID, or a unique prefix of it, to run on; needed for a global unit.',
);

function blockAttempts(until: string): FlagSpec {
  return intFlag(
    'block-attempts',
    0,
    `Wait until the units are ${until}, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.`,
  );
}

function noBlock(what: string): FlagSpec {
  return boolFlag(
    'no-block',
    `Do not wait until the units ${what} before exiting. Always the case for global units.`,
  );
}

function fieldsFlag(defaults: string, what: string, keys: readonly string[]): FlagSpec {
  return stringFlag(
    'fields',
    defaults,
    `Columns to print for each ${what}. Valid fields are "${[...keys].sort().join(',')}"`,
  );
}

export const LIST_UNITS_FIELDS = ['unit', 'machine', 'active', 'sub', 'load', 'hash'] as const;
export const LIST_UNIT_FILES_FIELDS = [
  'unit',
  'global',
  'dstate',
  'target',
  'tmachine',
  'state',
  'hash',
  'desc',
] as const;
export const LIST_MACHINES_FIELDS = ['machine', 'ip', 'metadata'] as const;

/** cobra's built-in `help` command, which fleet keeps. */
export const HELP_COMMAND: CommandSpec = {
  name: 'help',
  use: 'help [command]',
  short: 'Help about any command',
  long: `Help provides help for any command in the application.
    Simply type ${CLI_NAME} help [path to command] for full details.`,
  flags: [],
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'cat',
    use: 'cat UNIT',
    short: 'Output the contents of a submitted unit',
    long: `Outputs the unit file that is currently loaded in the cluster. Useful to verify
the correct version of a unit is running.`,
    flags: [],
  },
  {
    name: 'cordon',
    use: 'cordon MACHINE',
    short: 'Mark a machine unschedulable',
    long: `Marks a machine so that fleet places no new unit there. What runs there stays, and
global units are not affected. The cordon lives in the cluster until uncordon lifts it.

MACHINE is a machine ID or a unique prefix of one, as list-machines prints it.`,
    flags: [],
    ours: true,
  },
  {
    name: 'destroy',
    use: 'destroy UNIT...',
    short: 'Destroy one or more units in the cluster',
    long: `Completely remove one or more running or submitted units from the cluster.

Instructs systemd on the host machine to destroy the unit, deferring to systemd
completely for any custom stop directives (i.e. ExecStop option in the unit
file).

Destroyed units are impossible to start unless re-submitted.`,
    flags: [blockAttempts('destroyed'), noBlock('are destroyed')],
  },
  {
    name: 'drain',
    use: 'drain [--max-parallel=N] MACHINE',
    short: 'Move the units of a machine elsewhere, a few at a time',
    long: `Cordons a machine, then has fleet move its non-global units to other machines, N at
a time, honouring every [X-Fleet] rule. Units tied by MachineOf move together. Each move
waits until the unit is active at its new place before the next begins. A unit that cannot
move (pinned by MachineID, or with no other machine able to run it) stays, and is reported.

The drain goes on in the cluster when this command exits. It exits 1 if a unit stayed.

Drain a machine two units at a time:
fleetctl drain --max-parallel=2 113f16a7`,
    flags: [intFlag('max-parallel', 1, 'Units on their way to a new machine at once.')],
    ours: true,
  },
  {
    name: 'events',
    use: 'events [--since=REVISION]',
    short: 'Follow the changes of units, unit states and machines',
    long: `Prints the cluster's changes as fleet streams them, one JSON object per line: each
change of a unit, a unit state or a machine, with the revision that made it and the object
as the API shows it (null once removed). Without --since, a snapshot of every object comes
first, after a "reset" line.

Follows the stream until fleet ends it, resuming after the last revision seen when the
connection drops. Needs the API driver.

Resume after a revision seen earlier:
fleetctl events --since=1234`,
    flags: [
      stringFlag(
        'since',
        '',
        'Print the changes made after this revision; without it, start with a snapshot.',
      ),
    ],
    ours: true,
  },
  {
    name: 'fd-forward',
    use: 'fd-forward SOCKET',
    short: 'Proxy stdin and stdout to a unix domain socket',
    long: 'fleetctl utilizes fd-forward when --tunnel is used and --endpoint is a unix socket. This command is not intended to be called by users directly.',
    flags: [],
  },
  {
    name: 'journal',
    use: 'journal [--lines=N] [--ssh-port=N] [-f|--follow] [--output=STRING] [--sudo] [--machine=ID] UNIT',
    short: 'Print the journal of a unit in the cluster to stdout',
    long: `Outputs the journal of a unit by connecting to the machine that the unit occupies.

Read the last 10 lines:
fleetctl journal foo.service

Read the last 100 lines:
fleetctl journal --lines 100 foo.service

Read the journal of a global unit on one machine:
fleetctl journal --machine 113f16a7 global.service`,
    flags: [
      intFlag('lines', 10, 'Number of recent log lines to return'),
      SSH_PORT,
      boolFlag('follow', 'Continuously print new entries as they are appended to the journal.'),
      boolFlag('f', 'Shorthand for --follow', 'follow'),
      stringFlag(
        'output',
        'short',
        'Output mode. This will be passed unaltered to journalctl --output.',
      ),
      boolFlag('sudo', 'Execute journalctl with sudo'),
      ON_MACHINE,
    ],
  },
  {
    name: 'list-machines',
    use: 'list-machines [-l|--full] [--no-legend]',
    short: 'Enumerate the current hosts in the cluster',
    long: `Lists all active machines within the cluster. Previously active machines will not appear in this list.

For easily parsable output, you can remove the column headers:
fleetctl list-machines --no-legend

Output the list without truncation:
fleetctl list-machines --full`,
    flags: [
      FULL,
      FULL_SHORTHAND,
      NO_LEGEND,
      fieldsFlag('machine,ip,metadata', 'Machine', LIST_MACHINES_FIELDS),
    ],
  },
  {
    name: 'list-unit-files',
    use: 'list-unit-files [--fields]',
    short: 'List the units that exist in the cluster.',
    long: 'Lists all unit files that exist in the cluster (whether or not they are loaded onto a machine).',
    flags: [
      FULL,
      NO_LEGEND,
      fieldsFlag('unit,hash,dstate,state,target', 'Unit file', LIST_UNIT_FILES_FIELDS),
    ],
  },
  {
    name: 'list-units',
    use: 'list-units [--no-legend] [-l|--full] [--fields]',
    short: 'List the current state of units in the cluster',
    long: `Lists the state of all units in the cluster loaded onto a machine.

For easily parsable output, you can remove the column headers:
fleetctl list-units --no-legend

Output the list without ellipses:
fleetctl list-units --full

Or, choose the columns to display:
fleetctl list-units --fields=unit,machine`,
    flags: [
      FULL,
      FULL_SHORTHAND,
      NO_LEGEND,
      fieldsFlag('unit,machine,active,sub', 'Unit', LIST_UNITS_FIELDS),
    ],
  },
  {
    name: 'load',
    use: 'load [--no-block|--block-attempts=N] UNIT...',
    short: 'Schedule one or more units in the cluster, first submitting them if necessary.',
    long: `Load one or many units in the cluster into systemd, but do not start.

Select units to load by glob matching for units in the current working directory 
or matching the names of previously submitted units.

For units which are not global, load operations are performed synchronously,
which means fleetctl will block until it detects that the unit(s) have
transitioned to a loaded state. This behaviour can be configured with the
respective --block-attempts and --no-block options. Load operations on global
units are always non-blocking.`,
    flags: [
      SIGN,
      intFlag(
        'block-attempts',
        0,
        'Wait until the jobs are loaded, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.',
      ),
      boolFlag(
        'no-block',
        'Do not wait until the jobs have been loaded before exiting. Always the case for global units.',
      ),
      boolFlag('replace', 'Replace the old scheduled units in the cluster with new versions.'),
    ],
  },
  {
    name: 'restart',
    use: 'restart [--block-attempts=N] UNIT...',
    short: 'Instruct systemd to rolling restart one or more units in the cluster.',
    long: `Restarts one or more units in the cluster. If they are stopped it starts them.

Instructs systemd on the host machine to stop then start the unit, deferring to systemd
completely for any custom restart directives (i.e. ExecStop options in the unit
file).

For units which are not global, restart operations are performed synchronously,
which means fleetctl will block until it detects that the unit(s) have
transitioned to a stopped state and then back to a started state. This behaviour can be configured with the
respective --block-attempts options. Restart operations on global
units are always non-blocking.

Restart a single unit:
	fleetctl restart foo.service

Restart an entire directory of units with glob matching, without waiting:
	fleetctl restart myservice/*`,
    flags: [blockAttempts('stopped/started')],
  },
  {
    name: 'rollout',
    use: 'rollout start [flags] UNIT_FILE... | rollout list | rollout resume ID | rollout abort ID',
    short: 'Replace global units or template instances a few machines at a time',
    long: `Replaces the content of global units, or of instances of a template, one machine (or
instance) after another instead of everywhere at once. Each must be active with the new
content for --min-healthy-time, and --health-cmd must succeed on its machine, before the
next one starts. One not healthy within --healthy-deadline fails the rollout: with
--auto-revert it goes back to the previous content, and machines not reached are untouched.

The rollout lives in the cluster: leaving this command stops the printing, not the rollout.
start prints each step, waiting through a canary pause, and exits 0 once the rollout
completes, 1 if it failed or was aborted. list shows every rollout; resume continues one
paused after its canaries, following it as start does; abort puts every machine back on the
previous content.

Roll a global unit one machine at a time, pausing after the first:
fleetctl rollout start --canary=1 monitor.service`,
    flags: [
      intFlag('max-parallel', 1, 'Machines (or instances) updating at once.'),
      stringFlag(
        'min-healthy-time',
        '10s',
        'How long each must stay active with the new content before the next starts.',
      ),
      stringFlag('health-cmd', '', 'A command run on the machine that must succeed as well.'),
      stringFlag('healthy-deadline', '2m0s', 'How long each has to become healthy.'),
      trueFlag('auto-revert', 'Revert a machine that did not become healthy in time.'),
      intFlag('canary', 0, 'Pause after this many machines until rollout resume; 0 never pauses.'),
    ],
    ours: true,
  },
  {
    name: 'ssh',
    use: 'ssh [-A|--forward-agent] [--ssh-port=N] [--machine|--unit] {MACHINE|UNIT}',
    short: 'Open interactive shell on a machine in the cluster',
    long: `Open an interactive shell on a specific machine in the cluster or on the machine 
where the specified unit is located.

fleetctl tries to detect whether your first argument is a machine or a unit. 
To skip this check use the --machine or --unit flags.

Open a shell on a machine:
fleetctl ssh 2444264c-eac2-4eff-a490-32d5e5e4af24

Open a shell from your laptop, to the machine running a specific unit, using a
cluster member as a bastion host:
fleetctl --tunnel 10.10.10.10 ssh foo.service

Open a shell on a machine and forward the authentication agent connection:
fleetctl ssh --forward-agent 2444264c-eac2-4eff-a490-32d5e5e4af24


Tip: Create an alias for --tunnel.
- Add "alias fleetctl=fleetctl --tunnel 10.10.10.10" to your bash profile.
- Now you can run all fleet commands locally.

This command does not work with global units.`,
    flags: [
      stringFlag('machine', '', 'Open SSH connection to a specific machine.'),
      stringFlag('unit', '', 'Open SSH connection to machine running provided unit.'),
      boolFlag('forward-agent', 'Forward local ssh-agent to target machine.'),
      boolFlag('A', 'Shorthand for --forward-agent', 'forward-agent'),
      SSH_PORT,
    ],
  },
  {
    name: 'start',
    use: 'start [--no-block|--block-attempts=N] UNIT...',
    short:
      'Instruct systemd to start one or more units in the cluster, first submitting and loading if necessary.',
    long: `Start one or many units on the cluster. Select units to start by glob matching
for units in the current working directory or matching names of previously
submitted units.

For units which are not global, start operations are performed synchronously,
which means fleetctl will block until it detects that the unit(s) have
transitioned to a started state. This behaviour can be configured with the
respective --block-attempts and --no-block options. Start operations on global
units are always non-blocking.

Start a single unit:
fleetctl start foo.service

Start an entire directory of units with glob matching:
fleetctl start myservice/*

You may filter suitable hosts based on metadata provided by the machine.
Machine metadata is located in the fleet configuration file.`,
    flags: [
      SIGN,
      blockAttempts('launched'),
      noBlock('have launched'),
      boolFlag('replace', 'Replace the already started units in the cluster with new versions.'),
    ],
  },
  {
    name: 'status',
    use: 'status [--ssh-port=N] [--machine=ID] UNIT...',
    short: 'Output the status of one or more units in the cluster',
    long: `Output the status of one or more units currently running in the cluster.
Supports glob matching of units in the current working directory or matches
previously started units.

Show status of a single unit:
	fleetctl status foo.service

Show status of an entire directory with glob matching:
fleetctl status myservice/*

Show status of a global unit on one machine:
fleetctl status --machine 113f16a7 global.service`,
    flags: [SSH_PORT, ON_MACHINE],
  },
  {
    name: 'stop',
    use: 'stop [--no-block|--block-attempts=N] UNIT...',
    short: 'Instruct systemd to stop one or more units in the cluster.',
    long: `Stop one or more units from running in the cluster, but allow them to be started again in the future.

Instructs systemd on the host machine to stop the unit, deferring to systemd
completely for any custom stop directives (i.e. ExecStop option in the unit
file).

For units which are not global, stop operations are performed synchronously,
which means fleetctl will block until it detects that the unit(s) have
transitioned to a stopped state. This behaviour can be configured with the
respective --block-attempts and --no-block options. Stop operations on global
units are always non-blocking.

Stop a single unit:
fleetctl stop foo.service

Stop an entire directory of units with glob matching, without waiting:
fleetctl --no-block stop myservice/*`,
    flags: [blockAttempts('stopped'), noBlock('have stopped')],
  },
  {
    name: 'submit',
    use: 'submit UNIT...',
    short: 'Upload one or more units to the cluster without starting them',
    long: `Upload one or more units to the cluster without starting them. Useful
for validating units before they are started.

This operation is idempotent; if a named unit already exists in the cluster, it will not be resubmitted.

Submit a single unit:
fleetctl submit foo.service

Submit a directory of units with glob matching:
fleetctl submit myservice/*`,
    flags: [
      SIGN,
      boolFlag('replace', 'Replace the old submitted units in the cluster with new versions.'),
    ],
  },
  {
    name: 'uncordon',
    use: 'uncordon MACHINE',
    short: 'Mark a machine schedulable again',
    long: `Lifts the cordon of a machine, ending a drain under way: fleet may place units
there again. Units already moved away stay where they are.`,
    flags: [],
    ours: true,
  },
  {
    name: 'unload',
    use: 'unload [--no-block|--block-attempts=N] UNIT...',
    short: 'Unschedule one or more units in the cluster.',
    long: `Unload one or many units in the cluster, stopping them first if necessary.

For units which are not global, unload operations are performed synchronously,
which means fleetctl will block until it detects that the unit(s) have
transitioned to an inactive state. This behaviour can be configured with the
respective --block-attempts and --no-block options. Unload operations on global
units are always non-blocking.`,
    flags: [blockAttempts('inactive'), noBlock('have become inactive')],
  },
  {
    name: 'verify',
    use: 'verify UNIT',
    short: '',
    long: '',
    deprecated: 'DEPRECATED - No longer works',
    flags: [],
  },
  {
    name: 'version',
    use: 'version',
    short: 'Print the version and exit',
    long: '',
    flags: [],
  },
];

/** The commands we added to fleet's: the one difference in the recorded root help listing. */
export const OUR_COMMAND_NAMES: readonly string[] = COMMANDS.filter(
  (command) => command.ours === true,
).map((command) => command.name);

/** The root's subcommands as cobra holds them at run time: sorted, `help` included. */
export const SUBCOMMANDS: readonly CommandSpec[] = [...COMMANDS, HELP_COMMAND].sort((a, b) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
);
