import express, { type Express } from 'express';

/**
 * An express app that only routes: no express default (ETag, X-Powered-By, lenient case and
 * slashes, its own query parser) reaches the wire, which fleet's recorded answers and our
 * Go-compatible readers rule instead.
 */
export function plainExpress(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('query parser', false);
  return app;
}
