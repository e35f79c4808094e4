import type Stripe from 'stripe';
import { createdFilter, paginate } from '../list';
import { optionalBoolean, optionalString, rejectUnknown } from '../params';
import type { Route } from '../router';

export const eventRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/events',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['created', 'delivery_success', 'ending_before', 'expand', 'limit', 'starting_after', 'type', 'types']);
      const type = optionalString(params, 'type');
      const types = Array.isArray(params.types) ? params.types.map(String) : undefined;
      // `type` accepts a trailing wildcard, e.g. payment_intent.*
      const typeMatches = (t: string) =>
        (!type || (type.endsWith('.*') ? t.startsWith(type.slice(0, -1)) : t === type)) && (!types || types.includes(t));
      const inRange = createdFilter(params);
      // Stripe's filter on deliveries to webhook endpoints (EventBus.deliverySucceeded says how).
      const deliverySuccess = optionalBoolean(params, 'delivery_success');
      const delivered = (e: Stripe.Event) => deliverySuccess === undefined || core.events.deliverySucceeded(e) === deliverySuccess;
      const events = core.events.retainedEvents().filter((e) => typeMatches(e.type) && inRange(e.created) && delivered(e));
      return paginate(events, params, '/v1/events', 'event');
    },
  },
  {
    method: 'GET',
    path: '/v1/events/:id',
    handler: ({ core, path }) => {
      const event = core.events.events.require(path.id!);
      return event;
    },
  },
];
