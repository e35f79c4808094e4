// The matches of a search (/search?q=…): none, or several (an email that names a customer and their
// orders…), each with what it is and a link to its page. One match never lands here from the box,
// but a shared link may: it is listed like the others.
import { useQuery } from '@tanstack/react-query';
import { useId } from 'react';
import { Link, useSearchParams } from 'react-router';
import { GraphQLRequestError } from '../../api/graphql';
import { Empty, ErrorState, Loading } from '../../components/states';
import { humanize } from '../../lib/format';
import { searchQuery } from './queries';
import { SEARCH_TAKES } from './urls';

const QUERY_KIND_WORDS: Record<string, string> = {
  ORDER_ID: 'an order id',
  EMAIL: 'an email',
  PAYMENT_INTENT: 'a PaymentIntent id',
  CHECKOUT_SESSION: 'a Checkout Session id',
  CHARGE: 'a charge id',
  REFUND: 'a refund id',
  DISPUTE: 'a dispute id',
  WEBHOOK_EVENT: 'a Stripe event id',
  SUBSCRIPTION: 'a subscription id',
  INVOICE: 'an invoice id',
};

export function SearchPage() {
  const headingId = useId();
  const query = (useSearchParams()[0].get('q') ?? '').trim();
  const search = useQuery({ ...searchQuery(query), enabled: query !== '' });
  return (
    <section aria-labelledby={headingId}>
      <h1 id={headingId}>Search</h1>
      {query === '' && <Empty>Type {SEARCH_TAKES} in the box at the top (press / to get there).</Empty>}
      {query !== '' && search.isPending && <Loading what="matches" />}
      {search.isError &&
        (search.error instanceof GraphQLRequestError && search.error.code === 'BAD_USER_INPUT' ? (
          <p role="alert" className="state state-error">
            {search.error.message}
          </p>
        ) : (
          <ErrorState error={search.error} what="matches" onRetry={() => void search.refetch()} />
        ))}
      {search.data && (
        <>
          <p>
            “<span className="mono">{search.data.query}</span>”
            {search.data.queryKind === 'UNKNOWN' ? ' is none of the ids search knows.' : ` read as ${QUERY_KIND_WORDS[search.data.queryKind] ?? humanize(search.data.queryKind)}.`}
          </p>
          {search.data.matches.length === 0 ? (
            <Empty>Nothing matches. Search takes {SEARCH_TAKES}.</Empty>
          ) : (
            <ul className="search-matches" aria-label="Matches">
              {search.data.matches.map((match) => (
                <li key={`${match.kind}:${match.id}`}>
                  <span className="search-kind">{humanize(match.kind)}</span>
                  <Link to={match.route}>{match.label}</Link>
                  <span className="mono muted">{match.id}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
