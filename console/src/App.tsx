import { type QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { BrowserRouter, Link, Route, Routes } from 'react-router';
import { RequireAuth } from './auth/RequireAuth';
import { SignInPage } from './auth/SignInPage';
import { useSession } from './auth/session';
import { disputesPath } from './features/disputes/urls';
import { DisputesPage } from './features/disputes/views/DisputesPage';
import { makeDeliveriesPath } from './features/makeDeliveries/urls';
import { MakeDeliveriesPage } from './features/makeDeliveries/views/MakeDeliveriesPage';
import { orderPagePath, ordersPath } from './features/orders/urls';
import { OrderPage } from './features/orders/views/OrderPage';
import { customerPagePath } from './features/customers/urls';
import { CustomerPage } from './features/customers/views/CustomerPage';
import { searchPath } from './features/search/urls';
import { SearchPage } from './features/search/SearchPage';
import { OrdersPage } from './features/orders/views/OrdersPage';
import { OverviewPage } from './features/overview/OverviewPage';
import { overviewPath } from './features/overview/urls';
import { paymentLogsPath } from './features/paymentLogs/urls';
import { orphanedPaymentsPath } from './features/reconciliation/urls';
import { OrphanedPaymentsPage } from './features/reconciliation/views/OrphanedPaymentsPage';
import { PaymentLogsPage } from './features/paymentLogs/views/PaymentLogsPage';
import { paymentRequestsPath } from './features/paymentRequests/urls';
import { PaymentRequestsPage } from './features/paymentRequests/views/PaymentRequestsPage';
import { subscriptionsPath } from './features/subscriptions/urls';
import { SubscriptionsPage } from './features/subscriptions/views/SubscriptionsPage';
import { webhookEventsPath } from './features/webhookEvents/urls';
import { WebhookEventsPage } from './features/webhookEvents/views/WebhookEventsPage';
import { Shell } from './layout/Shell';
import { LIVE_REFRESH_MS, LiveRefreshProvider } from './lib/liveRefresh';

/**
 * A different user (or none) must not see what the last one loaded: drop the cache on sign-out and
 * when another user signs in. A refreshed token of the same user keeps it.
 */
function ClearCacheOnSessionChange() {
  const queryClient = useQueryClient();
  const { session } = useSession();
  const who = session ? `${session.method}:${session.email ?? session.token}` : null;
  const last = useRef(who);
  useEffect(() => {
    if (last.current !== who) {
      last.current = who;
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== 'auth' });
    }
  }, [who, queryClient]);
  return null;
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route
        element={
          <RequireAuth>
            <Shell />
          </RequireAuth>
        }
      >
        <Route index element={<OverviewPage />} />
        <Route path={paymentLogsPath} element={<PaymentLogsPage />} />
        <Route path={ordersPath} element={<OrdersPage />} />
        <Route path={orderPagePath} element={<OrderPage />} />
        <Route path={customerPagePath} element={<CustomerPage />} />
        <Route path={searchPath} element={<SearchPage />} />
        <Route path={webhookEventsPath} element={<WebhookEventsPage />} />
        <Route path={makeDeliveriesPath} element={<MakeDeliveriesPage />} />
        <Route path={orphanedPaymentsPath} element={<OrphanedPaymentsPage />} />
        <Route path={disputesPath} element={<DisputesPage />} />
        <Route path={subscriptionsPath} element={<SubscriptionsPage />} />
        <Route path={paymentRequestsPath} element={<PaymentRequestsPage />} />
        <Route
          path="*"
          element={
            <p>
              No such page. <Link to={overviewPath}>Go to the overview</Link>.
            </p>
          }
        />
      </Route>
    </Routes>
  );
}

/** liveRefreshMs: how often visible lists read themselves again (lib/liveRefresh.ts); tests set it. */
export function ConsoleApp({ queryClient, liveRefreshMs = LIVE_REFRESH_MS }: { queryClient: QueryClient; liveRefreshMs?: number | false }) {
  return (
    <QueryClientProvider client={queryClient}>
      <LiveRefreshProvider value={liveRefreshMs}>
        <BrowserRouter>
          <ClearCacheOnSessionChange />
          <AppRoutes />
        </BrowserRouter>
      </LiveRefreshProvider>
    </QueryClientProvider>
  );
}
