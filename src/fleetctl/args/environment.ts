import type { FlagSpec, FlagValues } from './flags.js';

/** `some-flag` → `FLEETCTL_SOME_FLAG`. */
function environmentName(flag: FlagSpec): string {
  return `FLEETCTL_${flag.name.replaceAll('-', '_').toUpperCase()}`;
}

/**
 * fleet's `getFlagsFromEnv` over the global flags, before the command line is parsed (so
 * the command line wins): empty values are ignored and so are values that do not parse.
 * Flags are visited in name order, so of two flags bound to one variable the later wins.
 */
export function applyEnvironment(
  flags: readonly FlagSpec[],
  env: Readonly<Record<string, string | undefined>>,
  values: FlagValues,
): void {
  const sorted = [...flags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const flag of sorted) {
    const text = env[environmentName(flag)];
    if (text !== undefined && text !== '') values.set(flag, text);
  }
}
