import type { UnitOption } from './deserialize.js';

/**
 * fleet's canonical form of a unit (go-systemd `Serialize`): options grouped by section in
 * order of first appearance, original order within a section, one blank line between
 * sections. This text is what `fleetctl cat` prints and what the unit hash covers.
 */
export function serializeUnitOptions(options: readonly UnitOption[]): string {
  const sections = new Map<string, UnitOption[]>();
  for (const option of options) {
    const bucket = sections.get(option.section);
    if (bucket === undefined) sections.set(option.section, [option]);
    else bucket.push(option);
  }
  const blocks: string[] = [];
  for (const [section, sectionOptions] of sections) {
    const lines = sectionOptions.map((option) => `${option.name}=${option.value}\n`);
    blocks.push(`[${section}]\n${lines.join('')}`);
  }
  return blocks.join('\n');
}
