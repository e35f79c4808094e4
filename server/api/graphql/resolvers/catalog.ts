import { listPricing } from '../../../catalog/catalog.sql';
import { formatMoney } from '../../../catalog/money';
import { allow, inheritAccess, PUBLIC } from '../access';
import type { MoneyResolvers, PriceResolvers, Resolvers } from '../generated/resolvers-types';

export const catalogResolvers: Resolvers = {
  Query: {
    pricing: allow(PUBLIC, (_parent, _args, { db }) => listPricing(db)),
  },
  Product: inheritAccess({}),
  Price: inheritAccess<PriceResolvers>({
    unitAmount: (price) => ({ amount: price.unit_amount, currency: price.currency }),
    kind: (price) => (price.kind === 'recurring' ? 'RECURRING' : 'ONE_TIME'),
    recurringInterval: (price) => price.recurring_interval,
  }),
  Money: inheritAccess<MoneyResolvers>({
    formatted: (money) => formatMoney(money),
  }),
};
