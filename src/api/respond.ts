import type { ServerResponse } from 'node:http';
import { type GoJsonValue, goJsonEncode } from '../go/json-encode.js';

/**
 * The API's only response writers. fleet wrote every JSON body with `json.Marshal` and a
 * bare `Content-Type: application/json`, and every failure as
 * `{"error":{"code":N,"message":"…"}}` (empty message when the detail is only logged).
 */

export const JSON_CONTENT_TYPE = 'application/json';

export function sendJson(res: ServerResponse, status: number, value: GoJsonValue): void {
  const body = Buffer.from(goJsonEncode(value), 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, message = ''): void {
  sendJson(res, status, errorBody(status, message));
}

export function errorBody(status: number, message: string): GoJsonValue {
  return { error: { code: status, message } };
}

/**
 * 201 and 204 of the units resource: fleet called `WriteHeader` alone, so these carry
 * neither a body nor a Content-Type.
 */
export function sendStatus(res: ServerResponse, status: 201 | 204): void {
  res.statusCode = status;
  res.end();
}

/**
 * PATCH machines' 204: fleet marshalled an empty string, so the Content-Type was set
 * although Go then dropped the body of a 204.
 */
export function sendJsonNoContent(res: ServerResponse): void {
  res.statusCode = 204;
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.end();
}
