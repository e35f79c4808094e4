// The GraphQL explorer served on GET /graphql outside production: GraphiQL, bundled by Vite with the
// console (a second entry), so it needs no network beyond this server (`npm start` is offline by
// design; Apollo's landing page loads its explorer from Apollo's CDN) and runs under the console's
// Content-Security-Policy, scripts from self only.
import { GraphiQL } from 'graphiql';
import { type ComponentProps, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './explorer.css';

// Same origin, JSON over POST, with the headers typed in GraphiQL's Headers tab (credentials are never
// stored: shouldPersistHeaders is off).
const fetcher: ComponentProps<typeof GraphiQL>['fetcher'] = async (params, options) => {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options?.headers },
    body: JSON.stringify(params),
  });
  return response.json();
};

const DEFAULT_QUERY = `# The payments ops GraphQL API. Anonymous callers may read the price list.
# Add credentials in Headers below, e.g. {"authorization": "Bearer <token or pok_ API key>"}:
# in sandbox mode npm start prints a storefront API key and support and admin staff tokens.
{
  pricing {
    name
    prices {
      unitAmount {
        formatted
      }
    }
  }
  viewer {
    role
  }
}
`;

createRoot(document.getElementById('explorer')!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} shouldPersistHeaders={false} />
  </StrictMode>,
);
