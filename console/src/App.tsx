import { queryOptions, useQuery } from '@tanstack/react-query';
import { graphqlRequest } from './graphql';

interface PricingData {
  pricing: Array<{ id: string; name: string; description: string; prices: Array<{ id: string; unitAmount: { formatted: string } }> }>;
}

const pricingQuery = queryOptions({
  queryKey: ['pricing'],
  queryFn: () => graphqlRequest<PricingData>('{ pricing { id name description prices { id unitAmount { formatted } } } }'),
});

/** Placeholder until the staff console lands: shows that the server, database and API are up. */
export function App() {
  const pricing = useQuery(pricingQuery);
  return (
    <main className="page">
      <header>
        <h1>Payments ops console</h1>
        <p className="muted">The staff screens (payment logs, orders, webhook events, Make deliveries) arrive with the console work.</p>
      </header>
      <section aria-labelledby="catalog-heading">
        <h2 id="catalog-heading">What the shop sells</h2>
        {pricing.isPending && <p>Loading prices…</p>}
        {pricing.isError && <p role="alert">Could not load prices: {pricing.error.message}</p>}
        {pricing.data && (
          <table>
            <thead>
              <tr>
                <th scope="col">Product track</th>
                <th scope="col">Price</th>
              </tr>
            </thead>
            <tbody>
              {pricing.data.pricing.map((product) => (
                <tr key={product.id}>
                  <td>
                    <strong>{product.name}</strong>
                    <div className="muted">{product.description}</div>
                  </td>
                  <td>{product.prices.map((price) => price.unitAmount.formatted).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
