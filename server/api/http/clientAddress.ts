// The address a request came from, for limits per source address. Behind proxies (TRUST_PROXY_HOPS
// of them) the socket's peer is the nearest proxy; each proxy appends the address it was reached from
// to X-Forwarded-For, so the client is the entry that many places from the right. Entries further
// left were written by the client itself and are never trusted.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import type { AppEnv } from './types';

export function clientAddress(c: Context<AppEnv>, trustProxyHops: number): string {
  const peer = c.env?.incoming ? getConnInfo(c as never).remote.address : undefined;
  return clientAddressOf(peer, c.req.header('x-forwarded-for'), trustProxyHops);
}

/** The same rule from the socket's peer and the X-Forwarded-For header (the webhook listener has no Hono context). */
export function clientAddressOf(peer: string | undefined, forwardedFor: string | undefined, trustProxyHops: number): string {
  if (trustProxyHops > 0) {
    const forwarded = (forwardedFor ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const client = forwarded[forwarded.length - trustProxyHops];
    // Fewer entries than proxies: the leftmost is still one a trusted proxy wrote.
    if (client) return client;
    if (forwarded[0]) return forwarded[0];
  }
  // Without a Node socket (app.fetch in tests): one shared bucket rather than none.
  return peer ?? 'unknown';
}
