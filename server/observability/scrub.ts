// Removes secrets and card data from anything about to leave the process (Sentry events, error
// details). Keys that name a secret lose their value; strings lose anything that looks like a Stripe
// key, a bearer token, a JWT, an API key of ours, or a card number (13-19 digits passing Luhn).

const SECRET_KEY_NAME = /pass(word)?|secret|token|authorization|api[-_]?key|cookie|signature|card|cvc|cvv|^number$|^exp_/i;

const SECRET_PATTERNS: RegExp[] = [
  /\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]{8,}\b/g,
  /\bwhsec_[A-Za-z0-9+/=_-]{8,}/g,
  /\bpok_[a-z]+_[A-Za-z0-9_-]{16,}/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
];

const CARD_CANDIDATE = /\b\d(?:[ -]?\d){12,18}\b/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function scrubString(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[redacted]');
  return out.replace(CARD_CANDIDATE, (match) => {
    const digits = match.replace(/[ -]/g, '');
    return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) ? '[card]' : match;
  });
}

/** A scrubbed copy of value (strings, arrays and plain objects, to any depth; cycles are cut). */
export function scrubDeep<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value === 'string') return scrubString(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]' as T;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, seen)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY_NAME.test(key) && v !== null && v !== undefined && typeof v !== 'object' ? '[redacted]' : scrubDeep(v, seen);
  }
  return out as T;
}
