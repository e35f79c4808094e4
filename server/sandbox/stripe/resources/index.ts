// Every resource module's routes, and what each does when sandbox time moves forward.
import type { SandboxCore } from '../core';
import type { Route } from '../router';
import { customerRoutes } from './customers';
import { eventRoutes } from './events';
import { webhookEndpointRoutes } from './webhookEndpoints';

export const resourceRoutes: Route[] = [...customerRoutes, ...eventRoutes, ...webhookEndpointRoutes];

export const clockHandlers: Array<(core: SandboxCore) => void | Promise<void>> = [];
