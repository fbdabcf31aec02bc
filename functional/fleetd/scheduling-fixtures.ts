// fleet's functional fixture units (functional/fixtures/units/) used by its scheduling and
// metadata tests, as unit-file text, plus the few units those tests generate.
import { sleeper } from './units.js';

/** The body most fixtures share: a bash loop printing every second. */
function loop(description: string | null, echo: string): string {
  const unit = description === null ? '' : `[Unit]\nDescription=${description}\n\n`;
  return `${unit}[Service]\nExecStart=/bin/bash -c "while true; do echo ${echo}; sleep 1; done"\n`;
}

function withXFleet(body: string, ...options: string[]): string {
  return `${body}\n[X-Fleet]\n${options.join('\n')}\n`;
}

const TEST_UNIT = loop('Test Unit', 'Hello, World!');

export const GOODBYE = loop(null, 'Goodbye, World!');

export const PING = loop('PING', 'ping');

export const pong = (i: number): string =>
  withXFleet(loop('PONG', 'pong'), `MachineOf=ping.${i}.service`);

/** `conflicts-with-hello.service`: the only side declaring the conflict. */
export const CONFLICTS_WITH_HELLO = withXFleet(TEST_UNIT, 'Conflicts=hello.service');

/**
 * `conflict.multiple.N.service`: units that conflict with one another through explicit lists,
 * several names on one `Conflicts=` line or one per repeated line. fleet's fixtures listed
 * `conflict.{0,1,2}.service` (units the test never starts), so its test passed on least-loaded
 * placement alone; these list each other, which is what the test describes.
 */
export const CONFLICT_MULTIPLE: Readonly<Record<string, string>> = {
  'conflict.multiple.0.service': withXFleet(
    TEST_UNIT,
    'Conflicts=conflict.multiple.1.service conflict.multiple.2.service',
  ),
  'conflict.multiple.1.service': withXFleet(
    TEST_UNIT,
    'Conflicts=conflict.multiple.0.service',
    'Conflicts=conflict.multiple.2.service',
  ),
  'conflict.multiple.2.service': withXFleet(
    TEST_UNIT,
    'Conflicts=conflict.multiple.1.service conflict.multiple.0.service',
  ),
};

export const REPLACE_PLAIN = TEST_UNIT;
export const REPLACE_2 = withXFleet(TEST_UNIT, 'MachineOf=replace.1.service');
export const REPLACE_KICK0 = withXFleet(TEST_UNIT, 'Replaces=replace.0.service');
/** TestScheduleCircularReplace's `replace.0.service`: kick0's file replacing kick0 back. */
export const REPLACE_0_CIRCULAR = withXFleet(TEST_UNIT, 'Replaces=replace-kick0.service');

export const GLOBAL = withXFleet(loop(null, 'Hello, Global World!'), 'Global=true');

export const CONFLICT_GLOBAL = withXFleet(
  TEST_UNIT,
  'Global=true',
  'Conflicts=conflict-global.*.service',
);

/** `metadata@.service`: runs where the `hostname` metadata is the instance name. */
export const METADATA_TEMPLATE = withXFleet(
  loop(null, 'Hello, World %i!'),
  'MachineMetadata=hostname=%i',
);

/** TestScheduleConditionMachineID's generated unit: pinned to one machine. */
export const machineIdUnit = (machineId: string): string =>
  withXFleet(loop(null, 'Hello, World!'), `MachineID=${machineId}`);

/** A unit pinned to a machine only to make it busier (for least-loaded placement). */
export const busy = (machineId: string): string =>
  sleeper('keeps a machine busy', `MachineID=${machineId}`);
