import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { CustomerByEmailDocument, CustomerDocument, type CustomerPageFragment } from '../../api/generated/graphql';
import { isEmail } from './urls';

export type Customer = CustomerPageFragment;

/** The customer page's read: by our id, or by email (compared without case by the server). */
export const customerPageQuery = (idOrEmail: string) =>
  queryOptions({
    queryKey: ['customers', 'page', idOrEmail] as const,
    queryFn: (): Promise<Customer | null> =>
      isEmail(idOrEmail)
        ? graphqlRequest(CustomerByEmailDocument, { email: idOrEmail }).then((d) => d.customerByEmail ?? null)
        : graphqlRequest(CustomerDocument, { id: idOrEmail }).then((d) => d.customer ?? null),
  });
