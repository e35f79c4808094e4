import { useEffect, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
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

/**
 * On a narrow screen (CSS: up to 900 px) the side navigation folds into a menu the top bar's button
 * opens; choosing a screen or Escape closes it. On a wide screen the button is hidden and the
 * navigation always shown.
 */
function useNavMenu() {
  const [open, setOpen] = useState(false);
  const location = useLocation();
  // Choosing a screen closes the menu in the click itself (below), so the new screen never paints
  // with the menu still over it; this catches the other ways the path changes (back, search box).
  useEffect(() => setOpen(false), [location.pathname]);
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setOpen(false);
      document.getElementById('nav-menu-button')?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);
  return { open, toggle: () => setOpen((was) => !was), close: () => setOpen(false) };
}

export function Shell() {
  const viewer = useViewer();
  const menu = useNavMenu();
  const staff = viewer.data && (viewer.data.role === 'SUPPORT' || viewer.data.role === 'ADMIN');
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          id="nav-menu-button"
          className="nav-menu-button"
          aria-expanded={menu.open}
          aria-controls="console-nav"
          onClick={menu.toggle}
        >
          <span aria-hidden="true">☰</span> Menu
        </button>
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
      <nav id="console-nav" className={`sidenav${menu.open ? ' sidenav-open' : ''}`} aria-label="Console sections">
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} end={item.end} onClick={menu.close}>
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
