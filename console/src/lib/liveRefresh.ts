// Live lists (issue 22): the list screens and the Overview read themselves again every few seconds
// while the tab is visible, so a new payment appears without a reload. An infinite query refetched
// this way reads every loaded page again from the first (TanStack Query walks the cursors anew), so
// the pages loaded stay loaded, the open row stays open (it is in the URL) and the table is updated
// in place, which keeps the scroll position.
import { createContext, useContext } from 'react';

/** At most 5 s between a payment and the list showing it. */
export const LIVE_REFRESH_MS = 5000;

/** The interval, or false for none: the console's tests set it (ConsoleApp's liveRefreshMs). */
const LiveRefreshContext = createContext<number | false>(LIVE_REFRESH_MS);
export const LiveRefreshProvider = LiveRefreshContext.Provider;

/**
 * The options that make a query live: refetched every interval, but only while the document is
 * visible (TanStack Query's focus manager follows visibilitychange; a hidden tab asks nothing).
 */
export function useLiveRefresh(): { refetchInterval: number | false; refetchIntervalInBackground: false } {
  return { refetchInterval: useContext(LiveRefreshContext), refetchIntervalInBackground: false };
}
