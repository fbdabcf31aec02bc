import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { errorMessage } from '../../error-message.js';
import { parseGoBool } from '../../go/strconv.js';
import { streamCommand } from '../../systemd/report-stream.js';
import {
  JOURNAL_OUTPUT_MODES,
  reportCommand,
  type UnitReport,
} from '../../systemd/unit-reports.js';
import { hangUpSignal } from '../client-gone.js';
import { sendError } from '../respond.js';
import { ANSWERED, type ApiContext, fromRegistry, requestQuery } from './context.js';
import { reportTarget } from './unit-report-target.js';

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';

export const REPORT_KINDS = ['status', 'journal'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

/** Where a forward failed before the peer answered: the route's 502. */
export class PeerUnreachableError extends Error {
  override name = 'PeerUnreachableError';
}

/** Streams a report from another fleetd's peer listener. */
export interface UnitReportForwarder {
  /**
   * Asks the peer listener at `address` (which must prove it is `machineID`) for
   * `pathAndQuery` and passes its answer, status and body, through to `res` unchanged.
   * Rejects with `PeerUnreachableError` when nothing was answered; a stream cut later ends
   * `res` without its exit line. Once `signal` aborts, the peer's request is called off.
   */
  forward(
    target: { machineID: string; address: string },
    pathAndQuery: string,
    res: ServerResponse,
    signal: AbortSignal | undefined,
  ): Promise<void>;
}

export interface UnitReports {
  /** This fleetd's machine: its units' reports are run here. */
  machineID: string;
  /** How to reach other machines' fleetds; null when this one has no peer certificate. */
  forwarder: UnitReportForwarder | null;
  /**
   * `entry`: a fleetd's own API, which forwards; `peer`: its peer listener, which serves
   * only its own machine's units, so that a request never takes a second hop.
   */
  hop: 'entry' | 'peer';
}

const QUERY_ERRORS = {
  lines: 'lines must be a non-negative integer',
  output: `output must be one of ${JOURNAL_OUTPUT_MODES.join(', ')}`,
  follow: 'follow must be true or false',
  machine: 'machine must not be empty',
};

const reportQuerySchema = z.object({
  lines: z
    .string()
    .regex(/^[0-9]{1,9}$/, { error: QUERY_ERRORS.lines })
    .transform(Number)
    .prefault('10'),
  output: z.enum(JOURNAL_OUTPUT_MODES, { error: QUERY_ERRORS.output }).prefault('short'),
  follow: z
    .string()
    .transform((raw, ctx) => {
      const value = parseGoBool(raw);
      if (value === undefined) {
        ctx.addIssue(QUERY_ERRORS.follow);
        return z.NEVER;
      }
      return value;
    })
    .prefault('false'),
  machine: z.string().min(1, { error: QUERY_ERRORS.machine }).optional(),
});
type ReportQuery = z.output<typeof reportQuerySchema>;

/**
 * Ours: `/fleet/ext/v1/units/<name>/status` and `/journal`. Runs `systemctl status` or
 * `journalctl` for the unit on its machine and streams the output as NDJSON frames (see
 * docs/api-v1.md); a unit of another machine is forwarded to that machine's peer listener.
 * A fleetd that cannot serve reports answers fleet's own 404, which clients take as "not
 * supported here".
 */
export async function unitReport(
  ctx: ApiContext,
  reports: UnitReports | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  kind: string,
): Promise<void> {
  if (reports === undefined || !isReportKind(kind)) {
    sendError(res, 404);
    return;
  }
  if (req.method !== 'GET') {
    sendError(res, 405, 'only GET supported against this resource');
    return;
  }
  const query = parseReportQuery(req);
  if ('error' in query) {
    sendError(res, 400, query.error);
    return;
  }
  const found = await fromRegistry(ctx, res, `Failed fetching Unit(${name}) from Registry`, () =>
    Promise.all([ctx.registry.cluster.unit(name), ctx.registry.states.forUnit(name)]),
  );
  if (found === ANSWERED) return;
  const [unit, states] = found;
  const reporting = states.map((state) => state.machineID);
  const target = reportTarget(unit, name, reporting, query.machine);
  if ('refusal' in target) {
    sendError(res, target.refusal.status, target.refusal.message);
    return;
  }
  const report = unitReportOf(kind, name, query);
  if (target.machineID === reports.machineID) {
    await runHere(ctx, report, res);
    return;
  }
  if (reports.hop === 'peer') {
    sendError(res, 409, `unit ${name} is not on machine ${reports.machineID}`);
    return;
  }
  const machines = await fromRegistry(ctx, res, 'Failed fetching Machines from Registry', () =>
    ctx.registry.cluster.machines(),
  );
  if (machines === ANSWERED) return;
  const address = machines.find((machine) => machine.id === target.machineID)?.peerAddress;
  if (reports.forwarder === null || address === undefined || address === '') {
    sendError(res, 404);
    return;
  }
  const path = `/fleet/ext/v1/units/${encodeURIComponent(name)}/${kind}?${forwardedQuery(report, target.machineID)}`;
  try {
    await reports.forwarder.forward(
      { machineID: target.machineID, address },
      path,
      res,
      hangUpSignal(res),
    );
  } catch (err) {
    if (!(err instanceof PeerUnreachableError)) throw err;
    if (hangUpSignal(res)?.aborted === true) return;
    ctx.log.warn(
      { unit: name, machineID: target.machineID, address, err },
      `Unable to forward the ${kind} of ${name} to machine ${target.machineID}`,
    );
    sendError(res, 502, `machine ${target.machineID} could not be reached: ${errorMessage(err)}`);
  }
}

function isReportKind(kind: string): kind is ReportKind {
  return (REPORT_KINDS as readonly string[]).includes(kind);
}

/** The query's values as the schema read them, or the first problem's message. */
export function parseReportQuery(req: IncomingMessage): ReportQuery | { error: string } {
  const query = requestQuery(req);
  const first = (key: string) => query.get(key)?.[0];
  const parsed = reportQuerySchema.safeParse({
    lines: first('lines'),
    output: first('output'),
    follow: first('follow'),
    machine: first('machine'),
  });
  if (parsed.success) return parsed.data;
  return { error: parsed.error.issues[0]?.message ?? 'bad query' };
}

function unitReportOf(kind: ReportKind, unit: string, query: ReportQuery): UnitReport {
  if (kind === 'status') return { kind, unit };
  return { kind, unit, lines: query.lines, output: query.output, follow: query.follow };
}

/** The query a forward asks the peer with: the report's own values and the chosen machine. */
function forwardedQuery(report: UnitReport, machineID: string): string {
  const params = new URLSearchParams();
  if (report.kind === 'journal') {
    params.set('lines', String(report.lines));
    params.set('output', report.output);
    if (report.follow) params.set('follow', 'true');
  }
  params.set('machine', machineID);
  return params.toString();
}

async function runHere(ctx: ApiContext, report: UnitReport, res: ServerResponse): Promise<void> {
  res.statusCode = 200;
  res.setHeader('Content-Type', NDJSON_CONTENT_TYPE);
  // A followed journal may print nothing for a long time; the client learns at once that
  // the request was taken.
  res.flushHeaders();
  const command = reportCommand(report);
  const exit = await streamCommand(command, res, hangUpSignal(res));
  ctx.log.debug(
    { unit: report.unit, program: command.program, exit },
    `Served the ${report.kind} of ${report.unit}`,
  );
  res.end();
}
