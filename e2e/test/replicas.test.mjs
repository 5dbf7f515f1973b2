// Scenario 7: two gateway replicas sharing one Redis (a private
// redis-server), the same signing keys and the same public issuer, in front
// of node oidc-provider. Every request of a flow that goes to the gateway
// goes to the other replica in turn: push on A, authorize on B, login on A,
// ... and the code is redeemed through the other one. The scenarios are in
// e2e/lib/scenarios.mjs; hydra-scenarios.test.mjs runs them in front of ORY Hydra.
import { replicaScenarios } from '../lib/scenarios.mjs';
import { startWorld } from '../lib/world.mjs';

replicaScenarios('two gateway replicas on one Redis in front of node oidc-provider', () => startWorld({ gateways: 2, redis: true }));
