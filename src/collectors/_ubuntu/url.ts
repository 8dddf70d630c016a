/** Source URLs from the collectors' variables, checked once, the same way for every collector. */
import { CollectorError } from '../../lib/sdk/index.js';

/** `raw` as an http(s) URL; anything else is an error naming the variable. */
export function httpUrl(variable: string, raw: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new CollectorError(`${variable}=${JSON.stringify(raw)} is not an http(s) URL`);
  return url;
}

/**
 * A base URL (a directory that relative names are resolved against): the variable's value, or
 * `fallback` when it is unset or empty, with a final `/` added when it has none.
 */
export function baseUrl(env: Record<string, string | undefined>, variable: string, fallback: string): URL {
  const raw = env[variable] || fallback;
  return httpUrl(variable, raw.endsWith('/') ? raw : `${raw}/`);
}
