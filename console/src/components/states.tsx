import type { ReactNode } from 'react';
import { describeError } from '../api/graphql';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorState({ error, what, onRetry }: { error: unknown; what: string; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p>
        Could not load {what}: {describeError(error)}
      </p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}

export function LoadMore({ hasNextPage, isFetching, onClick, shown }: { hasNextPage: boolean; isFetching: boolean; onClick: () => void; shown: number }) {
  return (
    <div className="load-more">
      <span className="muted">{shown} shown</span>
      {hasNextPage ? (
        <button type="button" onClick={onClick} disabled={isFetching}>
          {isFetching ? 'Loading more…' : 'Load more'}
        </button>
      ) : (
        <span className="muted">End of the list</span>
      )}
    </div>
  );
}

const TONES: Record<string, string> = {
  APPLIED: 'good', DELIVERED: 'good', PAID: 'good', CONFIRMED: 'good', SUCCEEDED: 'good',
  RECEIVED: 'info', PENDING: 'info', DELIVERING: 'info', PROCESSING: 'info', PROVISIONAL: 'warn', REQUIRES_ACTION: 'warn',
  IGNORED: 'neutral', CANCELED: 'neutral', REFUNDED: 'neutral', PARTIALLY_REFUNDED: 'neutral',
  FAILED: 'bad', DEAD: 'bad', DISPUTED: 'bad',
};

export function Badge({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  const tone = TONES[value.toUpperCase()] ?? 'neutral';
  return <span className={`badge badge-${tone}`}>{value.replaceAll('_', ' ').toLowerCase()}</span>;
}

export function JsonBlock({ json, label }: { json: string; label: string }) {
  let pretty = json;
  try {
    pretty = JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    // Not JSON: show it as it came.
  }
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {pretty}
    </pre>
  );
}

/** A definition list of label/value pairs for detail panels. */
export function Fields({ rows }: { rows: Array<[string, ReactNode]> }) {
  return (
    <dl className="fields">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}
