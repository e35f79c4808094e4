import type { Resolvers } from '../generated/resolvers-types';
import { catalogResolvers } from './catalog';
import { checkoutResolvers } from './checkout';
import { customerResolvers } from './customers';
import { makeResolvers } from './make';
import { opsResolvers } from './ops';
import { orderResolvers } from './orders';
import { paymentLogResolvers } from './paymentLogs';
import { paymentRequestResolvers } from './paymentRequests';
import { reconciliationResolvers } from './reconciliation';
import { refundResolvers } from './refunds';
import { searchResolvers } from './search';
import { subscriptionResolvers } from './subscriptions';
import { timelineResolvers } from './timeline';
import { viewerResolvers } from './viewer';
import { webhookResolvers } from './webhooks';

const DOMAIN_RESOLVERS: Resolvers[] = [catalogResolvers, viewerResolvers, checkoutResolvers, orderResolvers, webhookResolvers, makeResolvers, paymentLogResolvers, opsResolvers, reconciliationResolvers, refundResolvers, subscriptionResolvers, paymentRequestResolvers, timelineResolvers, customerResolvers, searchResolvers];

/**
 * One resolver map from the per-domain maps, type by type. Property descriptors are copied (not
 * values) so the access marks of inheritAccess() survive, and a field defined twice is an error.
 */
export function buildResolvers(maps: Resolvers[] = DOMAIN_RESOLVERS): Resolvers {
  const merged: Record<string, object> = {};
  for (const map of maps) {
    for (const [typeName, fields] of Object.entries(map) as Array<[string, object]>) {
      const target = (merged[typeName] ??= {});
      for (const key of Reflect.ownKeys(fields)) {
        if (typeof key === 'string' && key in target) throw new Error(`Resolver ${typeName}.${key} is defined twice`);
        Object.defineProperty(target, key, Object.getOwnPropertyDescriptor(fields, key)!);
      }
    }
  }
  return merged as Resolvers;
}
