// The gateway scenarios of gateway.test.mjs and replicas.test.mjs (PAR, JAR,
// every JARM mode, deny, plain flows, two replicas on one Redis), unchanged,
// in front of ORY Hydra v2.3.0 instead of node oidc-provider
// (e2e/lib/scenarios.mjs; the Hydra world in e2e/lib/hydra.mjs). The user
// signs in through Hydra's login/consent app, which accepts on its own, or
// rejects the consent with access_denied when the user agent denies.
import { startHydraWorld } from '../lib/hydra.mjs';
import { gatewayScenarios, replicaScenarios } from '../lib/scenarios.mjs';

gatewayScenarios('through the gateway (one replica, memory store) in front of ORY Hydra v2.3.0', () => startHydraWorld());
replicaScenarios('two gateway replicas on one Redis in front of ORY Hydra v2.3.0', () => startHydraWorld({ gateways: 2, redis: true }));
