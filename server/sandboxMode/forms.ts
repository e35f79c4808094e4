// The demo storefront's form posts, read before anything else happens: a body over the limit, a
// field that is missing, too long, or carries control characters (NUL), text that was not UTF-8 (its
// bytes decode to U+FFFD, as a lone surrogate does when a browser encodes it) or a lone surrogate
// itself is a FormError, which the pages answer with a 400 page and no change.
import type { Context } from 'hono';

export class FormError extends Error {
  override name = 'FormError';
}

/** Far more than any of the storefront's forms needs (a few ids, a key, an email). */
const MAX_FORM_BYTES = 8 * 1024;

/** `maxBytes`: a form that lists many things (a payment request's members) may ask for more. */
export async function readForm(c: Context, maxBytes = MAX_FORM_BYTES): Promise<URLSearchParams> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new FormError('The form must be sent as application/x-www-form-urlencoded.');
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw new FormError('The form is too large.');
  const body = c.req.raw.body;
  if (!body) return new URLSearchParams();
  // Read up to the limit and stop: a chunked body may declare no length.
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      throw new FormError('The form is too large.');
    }
    chunks.push(value);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Control characters (NUL among them) and U+FFFD, which is what bytes that were not UTF-8 became.
const UNPRINTABLE = /[\p{Cc}\uFFFD]/u;
// A high surrogate without its low one, or a low one without its high one (no u flag: code units).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** One field: present, at most `max` characters, printable, well-formed UTF-16; `pattern` when given. */
export function field(form: URLSearchParams, name: string, rule: { max: number; pattern?: RegExp; label: string }): string {
  const values = form.getAll(name);
  if (values.length !== 1) throw new FormError(`${rule.label} is missing.`);
  const value = values[0]!;
  if (value.length === 0 || value.length > rule.max) throw new FormError(`${rule.label} must be 1 to ${rule.max} characters.`);
  if (UNPRINTABLE.test(value) || LONE_SURROGATE.test(value)) throw new FormError(`${rule.label} contains characters that are not allowed.`);
  if (rule.pattern && !rule.pattern.test(value)) throw new FormError(`${rule.label} is not valid.`);
  return value;
}
