// The hosted Checkout page a person (or a browser test) pays on. Filled in with Checkout Sessions.
import type { SandboxCore } from '../core';

export const HOSTED_PAGE_PREFIX = '/checkout/';

export async function handleHostedPage(_core: SandboxCore, _request: Request, _url: URL): Promise<Response> {
  return new Response('Not found', { status: 404 });
}
