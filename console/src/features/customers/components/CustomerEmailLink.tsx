// An email shown anywhere in the console, linked to the customer's page (issue 22): by the customer's
// id when the row has it, else by the email itself, which the page looks up (customerByEmail).
import { Link } from 'react-router';
import { customerPageUrl } from '../urls';

export function CustomerEmailLink({ email, customerId, className }: { email: string | null | undefined; customerId?: string | null; className?: string }) {
  if (!email) return <span className="muted">—</span>;
  return (
    <Link to={customerPageUrl(customerId || email)} className={className} title={`Customer page of ${email}`}>
      {email}
    </Link>
  );
}
