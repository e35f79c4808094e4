import { NavLink, Outlet } from 'react-router';
import { describeError } from '../api/graphql';
import { sessionStore } from '../auth/session';
import { supabaseSignOut } from '../auth/supabase';
import { useViewer } from '../auth/viewer';
import { disputesPath } from '../features/disputes/urls';
import { makeDeliveriesPath } from '../features/makeDeliveries/urls';
import { ordersPath } from '../features/orders/urls';
import { overviewPath } from '../features/overview/urls';
import { paymentLogsPath } from '../features/paymentLogs/urls';
import { paymentRequestsPath } from '../features/paymentRequests/urls';
import { SearchBox } from '../features/search/SearchBox';
import { orphanedPaymentsPath } from '../features/reconciliation/urls';
import { subscriptionsPath } from '../features/subscriptions/urls';
import { webhookEventsPath } from '../features/webhookEvents/urls';

const NAV = [
  { to: overviewPath, label: 'Overview', end: true },
  { to: paymentLogsPath, label: 'Payment logs' },
  { to: ordersPath, label: 'Orders' },
  { to: subscriptionsPath, label: 'Subscriptions' },
  { to: paymentRequestsPath, label: 'Payment requests' },
  { to: webhookEventsPath, label: 'Webhook events' },
  { to: makeDeliveriesPath, label: 'Make deliveries' },
  { to: orphanedPaymentsPath, label: 'Orphaned payments' },
  { to: disputesPath, label: 'Disputes' },
];

export function Shell() {
  const viewer = useViewer();
  const staff = viewer.data && (viewer.data.role === 'SUPPORT' || viewer.data.role === 'ADMIN');
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Payments ops</span>
        <SearchBox />
        <div className="who" aria-label="Signed-in user">
          {viewer.isPending && <span className="muted">Loading user…</span>}
          {viewer.data && (
            <>
              <span className="who-name">{viewer.data.name ?? viewer.data.id ?? 'unknown user'}</span>
              <span className={`role role-${viewer.data.role.toLowerCase()}`} aria-label={`Role: ${viewer.data.role.toLowerCase()}`}>
                {viewer.data.role.toLowerCase()}
              </span>
            </>
          )}
          <button type="button" className="button-quiet" onClick={() => {
              sessionStore.signOut();
              void supabaseSignOut();
            }}>
            Sign out
          </button>
        </div>
      </header>
      <nav className="sidenav" aria-label="Console sections">
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} end={item.end}>
                {item.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {viewer.isError && <p role="alert">Could not load who you are: {describeError(viewer.error)}</p>}
        {viewer.isPending && <p role="status">Loading…</p>}
        {viewer.data && !staff && (
          <p role="alert">
            {viewer.data.name ?? 'This account'} is signed in as {viewer.data.role.toLowerCase()}, which has no staff role. Ask an admin to
            give you the support or admin role, then sign in again.
          </p>
        )}
        {/* The screens only for staff: others would get a page of FORBIDDEN errors. */}
        {staff && <Outlet />}
      </main>
    </div>
  );
}
