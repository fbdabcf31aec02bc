/**
 * Go's `time.Duration.String` for whole milliseconds (`1.5s`, `2m0s`, `1h0m0s`, `250ms`),
 * so durations read back as fleetctl's flags were given.
 */
export function formatGoDuration(ms: number): string {
  const whole = Math.trunc(ms);
  if (whole === 0) return '0s';
  const sign = whole < 0 ? '-' : '';
  let rest = Math.abs(whole);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const millis = rest % 1000;
  const fraction = millis === 0 ? '' : `.${String(millis).padStart(3, '0').replace(/0+$/, '')}`;
  const seconds = `${Math.floor(rest / 1000)}${fraction}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}
