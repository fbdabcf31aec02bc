import { readFile } from 'node:fs/promises';
import { goPathError } from '../../go/path-error.js';

/** RFC 6750's b64token: what may follow `Bearer ` in a header. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token in `--token-file` / `FLEETCTL_TOKEN_FILE`, without the trailing newline
 * an editor or `echo` leaves. The token is read from a file, never from the command line,
 * where other users could see it in the process list. Error messages name the file, never
 * its content.
 */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`token file: ${goPathError(err, path)}`);
  }
  const token = text.trimEnd();
  if (token === '') throw new Error(`token file ${path} is empty`);
  if (!BEARER_TOKEN.test(token)) {
    throw new Error(`token file ${path} does not hold one bearer token on a single line`);
  }
  return token;
}
