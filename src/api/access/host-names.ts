/**
 * The DNS-rebinding check of TCP listeners: a browser tricked into calling fleetd sends the
 * attacker's name as Host, so only fleetd's own names and addresses are let through.
 */

/** The host part of a Host header, lower case, without port, brackets or a final dot. */
export function hostOfHeader(header: string): string | null {
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed !== null) return bracketed[1] ?? null;
  const plain = /^([a-z0-9_.-]+)(?::\d{1,5})?$/.exec(value);
  if (plain === null) return null;
  return (plain[1] ?? '').replace(/\.$/, '');
}

/** Lower case, IPv6 unbracketed, IPv4-mapped IPv6 as the IPv4 address. */
export function normalizeName(name: string): string {
  return name
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1')
    .replace(/\.$/, '');
}

export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Whether the request's Host headers name fleetd itself: exactly one, and one of `own`. */
export function hostAllowed(headers: readonly string[], own: ReadonlySet<string>): boolean {
  if (headers.length !== 1) return false;
  const host = hostOfHeader(headers[0] ?? '');
  return host !== null && host !== '' && own.has(normalizeName(host));
}

/** The DNS names and IP addresses of a certificate's `subjectAltName` as node prints it. */
export function subjectAltNames(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  return subjectAltName
    .split(',')
    .map((part) => part.trim())
    .flatMap((part) => {
      const match = /^(DNS|IP Address):(.+)$/.exec(part);
      return match?.[2] === undefined ? [] : [normalizeName(match[2])];
    });
}
