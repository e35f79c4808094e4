import { ShortId } from '../../../components/ShortId';
import { Link } from 'react-router';
import { Badge, Fields } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import { StripeLink, type StripeMode } from '../../orders/components/OrderDetail';
import { paymentLogListUrl } from '../../paymentLogs/urls';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import { webhookEventListUrl } from '../../webhookEvents/urls';
import { perInterval, type SubscriptionDetail as Subscription, type SubscriptionInvoice } from '../queries';
import { SubscriptionFlags } from './SubscriptionColumns';
import { pauseInWords } from './subscriptionWords';

const day = (iso: string | null | undefined) => formatDateTime(iso).slice(0, 10);

/** A subscription's fields, its actions (what the view gives for the viewer's role), and its invoices. */
export function SubscriptionDetail({ subscription, stripeMode, actions }: { subscription: Subscription; stripeMode: StripeMode; actions: React.ReactNode }) {
  const s = subscription;
  return (
    <>
      <Fields
        rows={[
          ['Subscription', <StripeLink key="id" id={s.id} mode={stripeMode} />],
          ['Status', <Badge key="s" value={s.status} />],
          ['Customer', <CustomerEmailLink key="email" email={s.customerEmail} customerId={s.customerId} />],
          ['Track', s.trackName ? `${s.trackName} (${s.track})` : (s.track ?? `a price not ours (${s.stripePriceId ?? 'none'})`)],
          ['Price', s.price ? perInterval(s.price.unitAmount.formatted, s.price.recurringInterval) : '—'],
          ['Current period', s.currentPeriodStart || s.currentPeriodEnd ? `${formatDateTime(s.currentPeriodStart)} – ${formatDateTime(s.currentPeriodEnd)}` : '—'],
          ['Flags', <SubscriptionFlags key="f" row={s} />],
          ['Collection', pauseInWords(s.pause)],
          ...(s.canceledAt ? ([['Canceled', formatDateTime(s.canceledAt)]] as Array<[string, string]>) : []),
          ['First heard of', formatDateTime(s.createdAt)],
          ['Updated', formatDateTime(s.updatedAt)],
        ]}
      />
      {actions}
      <h3>Invoices</h3>
      {s.invoices.length === 0 ? <p className="muted">No invoices yet.</p> : <InvoiceList invoices={s.invoices} />}
      <p>
        <Link to={paymentLogListUrl({ q: s.customerEmail })}>Payment log of this customer</Link>
        {' · '}
        <Link to={webhookEventListUrl({ objectId: s.id })}>Its webhook events</Link>
      </p>
    </>
  );
}

function InvoiceList({ invoices }: { invoices: SubscriptionInvoice[] }) {
  return (
    <ul className="refund-list" aria-label="Invoices">
      {invoices.map((invoice) => (
        <li key={invoice.id} className="refund-item">
          <div>
            <Badge value={invoice.status} /> <strong>{invoice.amountDue.formatted}</strong> due · {invoice.amountPaid.formatted} paid
          </div>
          <div className="muted">
            {/* A subscription's first invoice and a switch's have an empty period (start = end): when it was made says more. */}
            {invoice.periodStart && invoice.periodEnd && invoice.periodStart !== invoice.periodEnd ? `${day(invoice.periodStart)} – ${day(invoice.periodEnd)}` : `made ${formatDateTime(invoice.createdAt)}`}
            {' · '}
            <ShortId id={invoice.id} />
            {invoice.hostedInvoiceUrl && (
              <>
                {' · '}
                <a href={invoice.hostedInvoiceUrl} target="_blank" rel="noreferrer noopener">
                  hosted invoice ↗
                </a>
              </>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}
