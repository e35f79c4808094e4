import type { ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { openHref } from '../lib/urlState';

/** The open row's details beside the list; closing it removes `open` from the URL. */
export function DetailPanel({ title, children }: { title: string; children: ReactNode }) {
  const [params] = useSearchParams();
  return (
    <aside className="detail" aria-label={title}>
      <div className="detail-head">
        <h2>{title}</h2>
        <Link to={openHref(params, null)} className="close" aria-label="Close details">
          Close ✕
        </Link>
      </div>
      {children}
    </aside>
  );
}
