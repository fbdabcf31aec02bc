// Prints, for each unit file given, what fleet derives from it: the canonical hash it is
// stored under and its [X-Fleet] scheduling requirements.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { jobRequirements } from '../dist/job/requirements.js';
import { validateUnitOptions } from '../dist/job/validate-options.js';
import { validateUnitName } from '../dist/unit/name.js';
import { UnitFile } from '../dist/unit/unit-file.js';

let failed = false;
for (const path of process.argv.slice(2)) {
  const name = basename(path);
  try {
    const unit = UnitFile.parse(readFileSync(path));
    const problem = validateUnitName(name) ?? validateUnitOptions(unit.options);
    if (problem !== null) throw new Error(problem);
    const { global, machineID, peers, conflicts, replaces, metadata } = jobRequirements(name, unit);
    const constraints = [
      global && 'Global',
      machineID !== null && `MachineID=${machineID}`,
      ...peers.map((peer) => `MachineOf=${peer}`),
      ...conflicts.map((pattern) => `Conflicts=${pattern}`),
      ...replaces.map((pattern) => `Replaces=${pattern}`),
      ...[...metadata].map(([key, values]) => `MachineMetadata=${key}=${[...values].join('|')}`),
    ].filter(Boolean);
    console.log(`${name}\t${unit.hash}\t${constraints.join(' ') || '-'}`);
  } catch (err) {
    failed = true;
    console.error(`${name}: ${err.message}`);
  }
}
process.exitCode = failed ? 1 : 0;
