/**
 * Unit-name globs of a limited `operate` grant: `*` stands for any run of characters, `?` for
 * one, anything else for itself. Unit names hold no `/`, so there is nothing for `*` to stop at.
 */
export function matchesUnitGlob(glob: string, name: string): boolean {
  const pattern = [...glob]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${pattern}$`, 'su').test(name);
}
