import { z } from 'zod';
import { errorMessage } from '../../error-message.js';
import { type Grant, ROLES } from './roles.js';

/**
 * The access file (`api_access_file`): who may do what on a TCP listener. Tokens are kept as
 * the SHA-256 of the token, never the token itself; certificates are named by their subject.
 *
 *     {
 *       "tokens": [
 *         { "name": "deploy-bot", "sha256": "<64 hex digits>", "role": "operate", "units": ["web-*"] }
 *       ],
 *       "certificates": [
 *         { "subject": { "CN": "alice", "O": "ops" }, "role": "admin" }
 *       ]
 *     }
 */

export class AccessFileError extends Error {
  override name = 'AccessFileError';
}

/** A certificate subject: each attribute's value, or values when it occurs more than once. */
export type CertificateSubject = Readonly<Record<string, string | readonly string[]>>;

export interface TokenEntry {
  name: string;
  /** Lower-case hex. */
  sha256: string;
  grant: Grant;
}

export interface CertificateEntry {
  subject: CertificateSubject;
  grant: Grant;
}

export interface AccessList {
  tokens: readonly TokenEntry[];
  certificates: readonly CertificateEntry[];
}

export const EMPTY_ACCESS_LIST: AccessList = { tokens: [], certificates: [] };

const UNIT_GLOB = /^[A-Za-z0-9:_.@\\*?-]+$/;

const grantFields = {
  role: z.enum(ROLES, { error: `expected one of ${ROLES.join(', ')}` }),
  units: z
    .array(z.string().regex(UNIT_GLOB, 'expected a unit-name glob such as "web-*"'))
    .min(1, 'expected at least one glob; leave "units" out to allow every unit')
    .optional(),
};

function unitsOnlyOnOperate(grant: { role: string; units?: string[] | undefined }): boolean {
  return grant.units === undefined || grant.role === 'operate';
}
const UNITS_ONLY_ON_OPERATE = {
  message: '"units" limits an operate grant only',
  path: ['units'],
};

const tokenSchema = z
  .strictObject({
    name: z.string().min(1, 'expected a name for the audit log'),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'expected the SHA-256 of the token as 64 hex digits'),
    ...grantFields,
  })
  .refine(unitsOnlyOnOperate, UNITS_ONLY_ON_OPERATE);

const subjectValue = z.string().min(1, 'expected a non-empty attribute value');
const certificateSchema = z
  .strictObject({
    subject: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9.]*$/, 'expected an attribute name such as CN'),
        z.union([subjectValue, z.array(subjectValue).min(2, 'expected a string')]),
      )
      .refine((subject) => Object.keys(subject).length > 0, 'expected at least one attribute'),
    ...grantFields,
  })
  .refine(unitsOnlyOnOperate, UNITS_ONLY_ON_OPERATE);

const accessFileSchema = z
  .strictObject({
    tokens: z.array(tokenSchema).default([]),
    certificates: z.array(certificateSchema).default([]),
  })
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.tokens.forEach((token, index) => {
      for (const key of [`name ${token.name}`, `sha256 ${token.sha256.toLowerCase()}`]) {
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `same ${key.split(' ')[0]} as tokens[${first}]`,
            path: ['tokens', index, key.split(' ')[0] ?? ''],
          });
        }
        seen.set(key, index);
      }
    });
  });

/** `tokens[0].sha256` from zod's path. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

/** The access list in `text`, or an error naming the file and the first bad field. */
export function parseAccessFile(text: string, path: string): AccessList {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AccessFileError(`access file ${path}: not JSON: ${errorMessage(err)}`);
  }
  const parsed = accessFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where =
      issue === undefined || issue.path.length === 0 ? '' : `${fieldPath(issue.path)}: `;
    throw new AccessFileError(`access file ${path}: ${where}${issue?.message ?? 'invalid'}`);
  }
  const grantOf = (entry: { role: Grant['role']; units?: string[] | undefined }): Grant => ({
    role: entry.role,
    units: entry.units ?? null,
  });
  return {
    tokens: parsed.data.tokens.map((token) => ({
      name: token.name,
      sha256: token.sha256.toLowerCase(),
      grant: grantOf(token),
    })),
    certificates: parsed.data.certificates.map((certificate) => ({
      subject: certificate.subject,
      grant: grantOf(certificate),
    })),
  };
}
