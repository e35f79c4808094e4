import { invalidRequest, missingParam } from '../errors';
import { paginate } from '../list';
import { applyMetadata, optionalBoolean, optionalString, type Params, rejectUnknown, requireString } from '../params';
import type { Route } from '../router';

function enabledEvents(params: Params, required: boolean): string[] | undefined {
  const raw = params.enabled_events;
  if (raw === undefined) {
    if (required) throw missingParam('enabled_events');
    return undefined;
  }
  const list = Array.isArray(raw) ? raw : typeof raw === 'object' && raw !== null ? Object.values(raw) : [raw];
  if (list.length === 0 || !list.every((e) => typeof e === 'string' && /^(\*|[a-z_]+(\.[a-z_]+)+)$/.test(e))) {
    throw invalidRequest('Invalid enabled_events: a list of event types or *', 'enabled_events');
  }
  return list as string[];
}

function validUrl(url: string): string {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw invalidRequest('Invalid URL: must be an http or https URL', 'url');
  return url;
}

export const webhookEndpointRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/webhook_endpoints',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['url', 'enabled_events', 'description', 'metadata', 'api_version', 'connect', 'expand']);
      const url = validUrl(requireString(params, 'url'));
      const events = enabledEvents(params, true)!;
      return core.events.createEndpoint(url, events, { description: optionalString(params, 'description') ?? null, metadata: applyMetadata({}, params) });
    },
  },
  {
    method: 'GET',
    path: '/v1/webhook_endpoints',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['ending_before', 'expand', 'limit', 'starting_after']);
      return paginate(core.events.endpoints.newestFirst(), params, '/v1/webhook_endpoints', 'webhook_endpoint');
    },
  },
  {
    method: 'GET',
    path: '/v1/webhook_endpoints/:id',
    handler: ({ core, path }) => core.events.endpoints.require(path.id!),
  },
  {
    method: 'POST',
    path: '/v1/webhook_endpoints/:id',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['url', 'enabled_events', 'description', 'metadata', 'disabled', 'expand']);
      const endpoint = core.events.endpoints.require(path.id!);
      const url = optionalString(params, 'url');
      if (url !== undefined) endpoint.url = validUrl(url);
      const events = enabledEvents(params, false);
      if (events) endpoint.enabled_events = events as typeof endpoint.enabled_events;
      const description = optionalString(params, 'description');
      if (description !== undefined) endpoint.description = description === '' ? null : description;
      const disabled = optionalBoolean(params, 'disabled');
      if (disabled !== undefined) endpoint.status = disabled ? 'disabled' : 'enabled';
      endpoint.metadata = applyMetadata(endpoint.metadata, params);
      return endpoint;
    },
  },
  {
    method: 'DELETE',
    path: '/v1/webhook_endpoints/:id',
    handler: ({ core, path }) => {
      core.events.endpoints.require(path.id!);
      core.events.deleteEndpoint(path.id!);
      return { id: path.id, object: 'webhook_endpoint', deleted: true };
    },
  },
];
