// Entering a machine, with no other harness module behind it: the cluster command's quick
// verbs (`ls`, `exec`) use it without loading the harness.

/** The nsenter prefix that enters every namespace of the process `pid` and its root. */
export function nsenterPrefix(pid: number): string[] {
  return ['nsenter', '-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-C', '-r', '-w', '--'];
}
