// Why a Node process hung: Node's diagnostic report, asked for with a signal before the
// process is killed for running past its deadline, read down to its JavaScript stack and the
// handles that kept it alive.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const REPORT_SIGNAL = 'SIGUSR2';

/** `NODE_OPTIONS` that make a Node process write a report into `dir` on REPORT_SIGNAL. */
export function reportOnSignalOptions(dir: string, existing = ''): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return [
    existing,
    '--report-on-signal',
    `--report-signal=${REPORT_SIGNAL}`,
    `--report-directory=${dir}`,
  ]
    .filter((option) => option !== '')
    .join(' ');
}

const reportSchema = z.object({
  javascriptStack: z.object({ message: z.string(), stack: z.array(z.string()) }).partial(),
  libuv: z.array(
    z
      .object({
        type: z.string(),
        is_active: z.boolean(),
        is_referenced: z.boolean(),
        remoteEndpoint: z.unknown(),
        localEndpoint: z.unknown(),
      })
      .partial(),
  ),
});

/**
 * Asks process `pid` for its report and waits (at most `patienceMs`) for it in `dir`; the
 * answer is a short text for a test's failure message. The report file is removed.
 */
export async function diagnoseHungNode(
  pid: number,
  dir: string,
  patienceMs = 3_000,
): Promise<string> {
  process.kill(pid, REPORT_SIGNAL);
  const deadline = Date.now() + patienceMs;
  for (;;) {
    const name = readdirSync(dir).find(
      (file) => file.includes(`.${pid}.`) && file.endsWith('.json'),
    );
    if (name !== undefined) {
      // Written in one go, but give the writer a moment to finish.
      await sleep(100);
      const path = join(dir, name);
      const text = readFileSync(path, 'utf8');
      rmSync(path, { force: true });
      return summarize(reportSchema.parse(JSON.parse(text)));
    }
    if (Date.now() > deadline) return `\n[hung: no diagnostic report from pid ${pid}]`;
    await sleep(100);
  }
}

function summarize(report: z.output<typeof reportSchema>): string {
  const handles = report.libuv
    .filter((handle) => handle.is_active === true && handle.is_referenced === true)
    .map((handle) => {
      const endpoints = [handle.localEndpoint, handle.remoteEndpoint]
        .filter((endpoint) => endpoint !== undefined)
        .map((endpoint) => JSON.stringify(endpoint))
        .join(' -> ');
      return `  ${handle.type}${endpoints === '' ? '' : ` ${endpoints}`}`;
    });
  return [
    '',
    '[hung past its deadline; what kept it alive]',
    ...handles,
    '[its JavaScript stack]',
    ...(report.javascriptStack.stack ?? []).map((line) => `  ${line.trim()}`),
  ].join('\n');
}
