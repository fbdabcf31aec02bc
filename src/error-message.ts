/** The message of whatever was thrown: an Error's own, or anything else as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
