import type { ReactNode } from 'react';
import { Link } from 'react-router';

/** The open row's details beside the list; its close link is the list's URL without `open`. */
export function DetailPanel({ title, closeHref, children }: { title: string; closeHref: string; children: ReactNode }) {
  return (
    <aside className="detail" aria-label={title}>
      <div className="detail-head">
        <h2>{title}</h2>
        <Link to={closeHref} className="close" aria-label="Close details">
          Close ✕
        </Link>
      </div>
      {children}
    </aside>
  );
}
