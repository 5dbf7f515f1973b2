// Scenarios 1-6 and 8 of issue 5: the parjarm binary (memory store, a
// signing key file) in front of the legacy upstream (oidc-provider without
// PAR and JARM), driven by oauth4webapi and the scripted user agent. The
// scenarios themselves are in e2e/lib/scenarios.mjs; hydra-scenarios.test.mjs
// runs the same ones in front of ORY Hydra.
import { gatewayScenarios } from '../lib/scenarios.mjs';
import { startWorld } from '../lib/world.mjs';

gatewayScenarios('through the gateway (one replica, memory store) in front of node oidc-provider', () => startWorld({ gateways: 1 }));
