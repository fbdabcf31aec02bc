import { quoteRune, quoteString } from '../go/text.js';

/** The parts of a unit name that templates and specifiers use. */
export interface UnitNameInfo {
  /** `foo@bar.service` */
  fullName: string;
  /** Without the type suffix: `foo@bar` (`%N`). */
  name: string;
  /** Before the first `@`: `foo` (`%p`). */
  prefix: string;
  /** After the first `@`: `bar` (`%i`). */
  instance: string;
  /** The template this name belongs to: `foo@.service`, or `''`. */
  template: string;
  isInstance: boolean;
  isTemplate: boolean;
}

/** Splits at the last `.` and the first `@`; `null` for a name without a `.`. */
export function unitNameInfo(fullName: string): UnitNameInfo | null {
  const dot = fullName.lastIndexOf('.');
  if (dot === -1) return null;
  const name = fullName.slice(0, dot);
  const suffix = fullName.slice(dot);
  const at = name.indexOf('@');
  if (at === -1) {
    return {
      fullName,
      name,
      prefix: name,
      instance: '',
      template: '',
      isInstance: false,
      isTemplate: false,
    };
  }
  const instance = name.slice(at + 1);
  const template = `${name.slice(0, at)}@${suffix}`;
  return {
    fullName,
    name,
    prefix: name.slice(0, at),
    instance,
    template,
    isInstance: instance.length > 0,
    isTemplate: instance.length === 0,
  };
}

/** The unit types fleet's agent and fleetctl recognise by name. */
export const RECOGNIZED_UNIT_TYPES = [
  'service',
  'socket',
  'timer',
  'path',
  'device',
  'mount',
  'automount',
] as const;

export function isRecognizedUnitType(name: string): boolean {
  return RECOGNIZED_UNIT_TYPES.some((type) => name.endsWith(`.${type}`));
}

/** What fleetctl makes of a command-line argument: its base name, `.service` added if untyped. */
export function mangleUnitArgument(arg: string): string {
  const base = goPathBase(arg);
  return isRecognizedUnitType(base) ? base : `${base}.service`;
}

/** Go's `path.Base`. */
function goPathBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

const UNIT_NAME_MAX_BYTES = 256;
const UNIT_TYPES = new Set([
  'automount',
  'busname',
  'device',
  'mount',
  'path',
  'scope',
  'service',
  'slice',
  'snapshot',
  'socket',
  'swap',
  'target',
  'timer',
]);
const TEMPLATE_UNIT_TYPES = new Set(['path', 'service', 'socket', 'target', 'timer']);
const VALID_NAME_CHARS = /^[A-Za-z0-9:_.@\-\\]$/;

/**
 * fleet's `ValidateName` (API and fleetctl): the first rule that fails gives the message,
 * in the original's order and words; `null` when the name is valid.
 */
export function validateUnitName(name: string): string | null {
  const length = Buffer.byteLength(name, 'utf8');
  if (length === 0) return 'unit name cannot be empty';
  if (length > UNIT_NAME_MAX_BYTES) {
    return `unit name exceeds maximum length (${UNIT_NAME_MAX_BYTES})`;
  }
  const dot = name.lastIndexOf('.');
  if (dot < 0) return 'unit name must contain "."';
  if (dot === name.length - 1) return 'unit name cannot end in "."';
  const suffix = name.slice(dot + 1);
  if (!UNIT_TYPES.has(suffix)) return `invalid unit type: ${quoteString(suffix)}`;
  if (name.includes('@') && !TEMPLATE_UNIT_TYPES.has(suffix)) {
    return `invalid unit type for template: ${quoteString(suffix)}`;
  }
  for (const ch of name.slice(0, dot)) {
    if (!VALID_NAME_CHARS.test(ch)) {
      return `invalid character ${quoteRune(ch.codePointAt(0)!)} in unit name`;
    }
  }
  if (name.startsWith('@')) return 'unit name cannot start in "@"';
  return null;
}

/** Linux's `NAME_MAX`: the longest name a unit's file in the units directory may have. */
export const UNIT_FILE_NAME_MAX_BYTES = 255;

/**
 * The check for a unit about to be stored (API writes, single or batch, and fleetctl before
 * it sends anything): fleet's `ValidateName`, then the file-name limit it lacked. fleet
 * accepted a 256-byte name (conformance vector `name-len-256`) that no agent could ever
 * write to disk, so that failed on every pass; this deviation refuses it up front.
 */
export function validateSubmittedUnitName(name: string): string | null {
  const problem = validateUnitName(name);
  if (problem !== null) return problem;
  if (Buffer.byteLength(name, 'utf8') > UNIT_FILE_NAME_MAX_BYTES) {
    return `unit name exceeds maximum file name length (${UNIT_FILE_NAME_MAX_BYTES} bytes)`;
  }
  return null;
}
