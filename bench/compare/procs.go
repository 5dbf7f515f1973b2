package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

// startGateway writes the client registry and an ES256 signing key
// (parjarm keys generate), starts the stand-in upstream and the gateway in
// front of it with the Redis store, and waits for /readyz.
func startGateway(ctx context.Context, binary, dir, redisAddr string) (*procs.Gateway, *procs.Upstream, error) {
	keys := filepath.Join(dir, "signing-keys.json")
	if out, err := exec.Command(binary, "keys", "generate", "--alg", "ES256", "--out", keys, "--kid", "bench-es256").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("parjarm keys generate: %v\n%s", err, out)
	}
	clients := filepath.Join(dir, "clients.json")
	reg := `{"clients":[{"client_id":"` + clientID + `","client_secret":"` + clientSecret +
		`","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["` + redirectURI +
		`"],"authorization_signed_response_alg":"ES256"}]}`
	if err := os.WriteFile(clients, []byte(reg), 0o600); err != nil {
		return nil, nil, err
	}
	listen, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	admin, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	up, err := procs.StartUpstream("http://"+listen, "bench-code-", 0)
	if err != nil {
		return nil, nil, err
	}
	g, err := procs.StartGateway(ctx, binary, filepath.Join(dir, "gateway.log"), listen, admin,
		"PARJARM_UPSTREAM_URL="+up.URL,
		"PARJARM_REDIS_URL=redis://"+redisAddr+"/0",
		"PARJARM_CLIENTS_FILE="+clients,
		"PARJARM_SIGNING_KEYS_FILE="+keys,
		"PARJARM_DEFAULT_SIGNING_ALG=ES256",
	)
	if err != nil {
		up.Close()
		return nil, nil, err
	}
	return g, up, nil
}
