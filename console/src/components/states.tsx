import type { UseInfiniteQueryResult, UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { describeError, GraphQLRequestError } from '../api/graphql';

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

/**
 * A list's first page: loading, a failure (with a retry), or nothing there. A search the server
 * cannot read (BAD_USER_INPUT) is a mistake in the box, not a failure of the page: it says what the
 * box accepts, without "Try again".
 */
export function ListStates({ list, shown, what, empty, searching = false }: { list: UseInfiniteQueryResult; shown: number; what: string; empty: string; searching?: boolean }) {
  if (list.isPending) return <Loading what={what} />;
  if (list.isError) {
    if (searching && list.error instanceof GraphQLRequestError && list.error.code === 'BAD_USER_INPUT') {
      return (
        <p role="alert" className="state state-error">
          {describeError(list.error)}
        </p>
      );
    }
    return <ErrorState error={list.error} what={what} onRetry={() => void list.refetch()} />;
  }
  return shown === 0 ? <Empty>{empty}</Empty> : null;
}

/** The foot of a keyset list: how many rows are shown, "Load more" (the next page after the last cursor), and a failure to load it. */
export function LoadMore({ list, shown }: { list: UseInfiniteQueryResult; shown: number }) {
  return (
    <>
      <div className="load-more">
        <span className="muted">{shown} shown</span>
        {list.hasNextPage ? (
          <button type="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? 'Loading more…' : 'Load more'}
          </button>
        ) : (
          <span className="muted">End of the list</span>
        )}
      </div>
      {list.isFetchNextPageError && <p role="alert">Could not load more: {describeError(list.error)}</p>}
    </>
  );
}

/**
 * One object read by id: loading, error (with a retry), not found, or the object. A failed refresh
 * of an object already shown keeps it on screen under the error. An object the caller already holds
 * (`known`) is shown as it is, whatever the query does.
 */
export function QueryContent<T>({
  query,
  known,
  what,
  notFound,
  children,
}: {
  query: UseQueryResult<T | null>;
  known?: T | undefined;
  what: string;
  notFound: string;
  children: (data: T) => ReactNode;
}) {
  if (known !== undefined) return <>{children(known)}</>;
  if (query.isPending) return <Loading what={what} />;
  const error = query.isError && <ErrorState error={query.error} what={what} onRetry={() => void query.refetch()} />;
  if (query.data) return <>{error}{children(query.data)}</>;
  return error || <Empty>{notFound}</Empty>;
}

const TONES: Record<string, string> = {
  APPLIED: 'good', DELIVERED: 'good', PAID: 'good', CONFIRMED: 'good', SUCCEEDED: 'good',
  RECEIVED: 'info', PENDING: 'info', DELIVERING: 'info', PROCESSING: 'info', PROVISIONAL: 'warn', REQUIRES_ACTION: 'warn',
  IGNORED: 'neutral', CANCELED: 'neutral', REFUNDED: 'neutral', PARTIALLY_REFUNDED: 'neutral',
  FAILED: 'bad', DEAD: 'bad', DISPUTED: 'bad',
  // Subscriptions and their invoices.
  ACTIVE: 'good', TRIALING: 'info', PAST_DUE: 'bad', UNPAID: 'bad', INCOMPLETE: 'warn', UNCOLLECTIBLE: 'bad',
  // Payment requests (and their members, whose statuses are the orders' above).
  PARTIALLY_PAID: 'info', EXPIRED: 'neutral',
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
