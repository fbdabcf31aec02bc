/** An integer command-line option of at least `min`; anything else stops the benchmark. */
export function integerOption(name: string, raw: string, min = 1): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`--${name}: expected an integer >= ${min}`);
  }
  return value;
}
