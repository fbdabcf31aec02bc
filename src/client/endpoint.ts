import { errorMessage } from '../error-message.js';
import { quoteString } from '../go/text.js';
import { escapeGoPath } from '../go/url.js';
import { parseGoUrl } from '../go/url-parse.js';

/** How to reach a fleet API, from fleetctl's `--endpoint`. */
export interface ApiEndpoint {
  /** As Go's client knew it: `unix://` endpoints become `http://domain-sock`. */
  baseUrl: string;
  /** The URL scheme requests use; anything but http or https fails when a request is made. */
  protocol: string;
  /** Set for `unix://` and `file://` endpoints. */
  socketPath?: string;
  /** `user:password` from the URL, sent as basic authentication as Go's client did. */
  userinfo: string;
}

export class EndpointError extends Error {
  override name = 'EndpointError';
}

/**
 * fleetctl's `getHTTPClient`: the endpoint must have a scheme; a `unix` or `file` endpoint
 * names a socket by its path and may not name a host. The API root is `<endpoint
 * path>/fleet/v1/`. Errors carry fleetctl's texts.
 */
export function parseEndpoint(endpoint: string): ApiEndpoint {
  let url: ReturnType<typeof parseGoUrl>;
  try {
    url = parseGoUrl(endpoint);
  } catch (err) {
    throw new EndpointError(errorMessage(err));
  }
  if (url.scheme === '') throw new EndpointError('URL scheme undefined');
  if (url.scheme === 'unix' || url.scheme === 'file') {
    if (url.host !== '') {
      throw new EndpointError(
        `unable to connect to host ${quoteString(url.host)} with scheme ${quoteString(url.scheme)}`,
      );
    }
    return {
      baseUrl: 'http://domain-sock/fleet/v1/',
      protocol: 'http',
      socketPath: url.path,
      userinfo: url.userinfo,
    };
  }
  const authority = url.opaque !== '' ? url.opaque : `//${url.host}`;
  return {
    baseUrl: `${url.scheme}:${authority}${escapeGoPath(joinPath(url.path, 'fleet/v1'))}/`,
    protocol: url.scheme,
    userinfo: url.userinfo,
  };
}

/** Go's `path.Join` of a URL path and a relative one: cleaned, rooted when the first was. */
function joinPath(base: string, rest: string): string {
  const segments: string[] = [];
  for (const segment of `${base}/${rest}`.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/** The Go client's URI-template expansion: everything but RFC 3986 unreserved is escaped. */
export function escapePathParameter(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
