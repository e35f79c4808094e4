// An id as every screen shows it: shortened to its kind and ends (pi_3Nq4…x9Fz, 1a2b3c4d…9f0e) so a
// column of them never wraps into a tower, the full id on hover and on keyboard focus (a tooltip, the
// title, and the accessible name), and a button that copies the full id. Screen readers and text
// searches read the full id; the shortened one is only what the eye sees.
import { useEffect, useState } from 'react';
import { Link } from 'react-router';

/** Ids up to this length are shown whole. */
const SHORT_ENOUGH = 14;

/** `pi_3Nq4…x9Fz`: the prefix (up to the last underscore) with four characters, and the last four. */
export function shortenId(id: string): string {
  if (id.length <= SHORT_ENOUGH) return id;
  const prefix = /^[a-z]+_(?:[a-z]+_)?/.exec(id)?.[0] ?? '';
  const head = prefix ? prefix.length + 4 : 8;
  return `${id.slice(0, head)}…${id.slice(-4)}`;
}

export interface ShortIdProps {
  id: string;
  /** An internal route (a Link) or, with `external`, a page elsewhere (Stripe's dashboard, a new tab). */
  href?: string;
  external?: boolean;
  /** The link's accessible name when it says more than the id (`Order 1a2b…`, `pi_… in Stripe's dashboard`). */
  label?: string;
  /** The title on hover when it says more than the id. */
  title?: string;
  /** What the copy button names (`order id`); the id itself when left out. */
  what?: string;
}

export function ShortId({ id, href, external = false, label, title, what }: ShortIdProps) {
  const short = shortenId(id);
  const name = label ?? id;
  // The accessible name is the content's hidden text (the full id, or the label that holds it), not an
  // aria-label: a name that does not contain the visible text fails WCAG 2.5.3 (label in name).
  const shown = (
    <>
      {short === id && !label ? id : <span className="visually-hidden">{name}</span>}
      <span aria-hidden="true">
        {short === id && !label ? '' : short}
        {external && ' ↗'}
      </span>
    </>
  );
  let text;
  if (href && external) {
    text = (
      <a href={href} target="_blank" rel="noreferrer noopener" className="short-id-text" title={title ?? id}>
        {shown}
      </a>
    );
  } else if (href) {
    text = (
      <Link to={href} className="short-id-text" title={title ?? id}>
        {shown}
      </Link>
    );
  } else {
    text = (
      <span className="short-id-text" title={title ?? id}>
        {shown}
      </span>
    );
  }
  return (
    // data-full: the tooltip shown on keyboard focus (CSS), as the title is on hover.
    <span className="short-id" data-full={id.length > SHORT_ENOUGH ? id : undefined}>
      {text}
      <CopyButton value={id} what={what ?? id} />
    </span>
  );
}

/** Copies `value`; says so for a moment (in the button, and to screen readers). */
export function CopyButton({ value, what }: { value: string; what: string }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(null), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <>
      <button
        type="button"
        className="copy-id"
        aria-label={`Copy ${what}`}
        title={`Copy ${value}`}
        onClick={() => {
          // The clipboard needs a secure context (https or localhost); elsewhere it is missing.
          const write = navigator.clipboard?.writeText(value) ?? Promise.reject(new Error('no clipboard'));
          write.then(
            () => setCopied('yes'),
            () => setCopied('failed'),
          );
        }}
      >
        {copied === 'yes' ? <span aria-hidden="true">✓</span> : <CopyIcon />}
      </button>
      <span className="visually-hidden" role="status">
        {copied === 'yes' ? 'Copied' : copied === 'failed' ? 'Could not copy: select the id instead' : ''}
      </span>
    </>
  );
}

/** Two overlapping sheets, drawn (a font's copy glyph is missing on many systems and shows as a box). */
function CopyIcon() {
  return (
    <svg aria-hidden="true" focusable="false" width="12" height="12" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.6">
      <rect x="5" y="5" width="9" height="9" rx="1.5" />
      <path d="M11 3.5V3a1.5 1.5 0 0 0-1.5-1.5H3A1.5 1.5 0 0 0 1.5 3v6.5A1.5 1.5 0 0 0 3 11h.5" />
    </svg>
  );
}
