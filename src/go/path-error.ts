import { errorMessage } from '../error-message.js';

/** The `syscall.Errno` texts Go prints for the file errors fleetctl reports. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/**
 * A Node file-system error as Go's `*PathError` prints it: `open x: no such file or
 * directory`. Reading a directory fails at `read` in Go, not at `open`.
 */
export function goPathError(err: unknown, path: string): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const text = ERRNO_TEXT[code] ?? errorMessage(err);
  const op = code === 'EISDIR' ? 'read' : 'open';
  return `${op} ${path}: ${text}`;
}
