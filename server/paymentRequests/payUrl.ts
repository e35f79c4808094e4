// Where a member's pay link points: PAYMENT_REQUEST_PAY_URL with the token in place of {token}, or, in
// sandbox mode when it is unset, the demo storefront's pay page on this server. Outside sandbox mode
// with none configured there is no pay link to give: create and remind are refused (null here), and
// the server still starts, since a shop may not use payment requests at all.
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';

/** The demo storefront's pay page (server/sandboxMode/paymentRequestPages.ts PAY_PATH). */
export const SANDBOX_PAY_PATH = `${SANDBOX_STOREFRONT_PATH}/pay?token={token}`;

export function paymentRequestPayUrl(configured: string | undefined, sandboxServerUrl: string | undefined): ((token: string) => string) | null {
  const pattern = configured ?? (sandboxServerUrl ? `${sandboxServerUrl}${SANDBOX_PAY_PATH}` : undefined);
  if (!pattern) return null;
  // Tokens are base64url: nothing in them needs escaping in a URL.
  return (token) => pattern.replaceAll('{token}', encodeURIComponent(token));
}
