// Removes secrets and card data from anything about to leave the process (Sentry events, error
// details). Keys that name a secret lose their value; strings lose anything that looks like a Stripe
// key, a bearer token, a JWT, an API key of ours, or a card number (13-19 digits starting with 2-6, the
// payment-card industry identifiers, passing Luhn).

const SECRET_KEY_NAME = /pass(word)?|secret|token|authorization|api[-_]?key|cookie|signature|card|cvc|cvv|^number$|^exp_/i;

const SECRET_PATTERNS: RegExp[] = [
  /\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]{8,}\b/g,
  /\bwhsec_[A-Za-z0-9+/=_-]{8,}/g,
  /\bpok_[a-z]+_[A-Za-z0-9_-]{16,}/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
];

// A run of digit groups separated by single spaces or dashes: "4242 4242 4242 4242 12 34". A card can
// sit inside a longer run (followed by its expiry or CVC, preceded by an amount), so every sequence of
// whole groups in the run is checked, not only the run as a whole.
const DIGIT_RUN = /(?<!\d)\d+(?:[ -]\d+)*(?!\d)/g;

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

// Card numbers start with 2-6 (Mastercard, Amex, Visa, Discover, JCB, UnionPay...); millisecond
// timestamps (13 digits starting with 1) are left alone.
const isCardNumber = (digits: string) => digits.length >= 13 && digits.length <= 19 && /^[2-6]/.test(digits) && luhnValid(digits);

function scrubCardsInRun(run: string): string {
  const groups = [...run.matchAll(/\d+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length, digits: m[0] }));
  let out = '';
  let copiedUpTo = 0;
  for (let i = 0; i < groups.length; i++) {
    // The longest sequence of whole groups from group i that is a card number.
    let cardEnd = -1;
    let digits = '';
    for (let j = i; j < groups.length && digits.length + groups[j]!.digits.length <= 19; j++) {
      digits += groups[j]!.digits;
      if (isCardNumber(digits)) cardEnd = j;
    }
    if (cardEnd >= 0) {
      out += `${run.slice(copiedUpTo, groups[i]!.start)}[card]`;
      copiedUpTo = groups[cardEnd]!.end;
      i = cardEnd;
    }
  }
  return out + run.slice(copiedUpTo);
}

export function scrubString(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[redacted]');
  return out.replace(DIGIT_RUN, (run) => (run.length < 13 ? run : scrubCardsInRun(run)));
}

/**
 * A scrubbed copy of value: strings, arrays and plain objects to any depth. Other objects (Date,
 * Buffer, class instances) are kept as they are; a reference back to an enclosing object is cut.
 */
export function scrubDeep<T>(value: T, ancestors = new Set<object>()): T {
  if (typeof value === 'string') return scrubString(value) as T;
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  if (ancestors.has(value)) return '[circular]' as T;
  ancestors.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((v) => scrubDeep(v, ancestors));
  } else {
    const copy: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      copy[key] = SECRET_KEY_NAME.test(key) && v !== null && v !== undefined && typeof v !== 'object' ? '[redacted]' : scrubDeep(v, ancestors);
    }
    out = copy;
  }
  ancestors.delete(value);
  return out as T;
}
