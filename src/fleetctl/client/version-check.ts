/** A semantic version as coreos/go-semver reads it: `major.minor.patch[-pre][+meta]`. */
interface SemVersion {
  numbers: [number, number, number];
  preRelease: string[];
}

function parseSemVersion(text: string): SemVersion | null {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text);
  if (match === null) return null;
  return {
    numbers: [Number(match[1]), Number(match[2]), Number(match[3])],
    preRelease: match[4] === undefined ? [] : match[4].split('.'),
  };
}

function comparePreRelease(a: readonly string[], b: readonly string[]): number {
  // A release sorts after its pre-releases.
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    const xNumeric = /^\d+$/.test(x);
    const yNumeric = /^\d+$/.test(y);
    if (xNumeric && yNumeric) return Number(x) - Number(y);
    if (xNumeric !== yNumeric) return xNumeric ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Negative when `a` is older than `b`; versions that do not parse compare equal. */
export function compareVersions(a: string, b: string): number {
  const x = parseSemVersion(a);
  const y = parseSemVersion(b);
  if (x === null || y === null) return 0;
  for (let i = 0; i < 3; i++) {
    if (x.numbers[i] !== y.numbers[i]) return x.numbers[i]! - y.numbers[i]!;
  }
  return comparePreRelease(x.preRelease, y.preRelease);
}

/** The newest of the versions that parse, as fleet's `LatestDaemonVersion` picks it. */
export function latestVersion(versions: readonly string[]): string | null {
  let latest: string | null = null;
  for (const version of versions) {
    if (parseSemVersion(version) === null) continue;
    if (latest === null || compareVersions(latest, version) < 0) latest = version;
  }
  return latest;
}

/** fleet's boxed warning when this fleetctl is older than a fleetd in the cluster. */
export function versionWarning(own: string, latest: string): string | null {
  if (compareVersions(own, latest) >= 0) return null;
  const rule = '#'.repeat(68);
  return `${rule}
WARNING: fleetctl (${own}) is older than the latest registered
version of fleet found in the cluster (${latest}). You are strongly
recommended to upgrade fleetctl to prevent incompatibility issues.
${rule}
`;
}
