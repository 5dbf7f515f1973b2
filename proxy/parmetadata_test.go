package proxy

import (
	"slices"
	"testing"
)

func TestDiscoveryListsThePARMetadataOnlyWithPAR(t *testing.T) {
	eps, err := NewEndpoints(EndpointsConfig{Issuer: "https://login.example", PublicURL: mustURL(t, "https://login.example"), PARPath: "/par", JWKSPath: "/keys"})
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"request_object_encryption_alg_values_supported": []string{"RSA-OAEP-256"}}
	up := map[string]any{"issuer": "https://login.example"}
	for _, par := range []bool{true, false} {
		doc := RewriteDiscovery(up, Options{Issuer: "https://login.example", PublicURL: "https://login.example", PAREnabled: par, Endpoints: eps, PARMetadata: meta})
		got, listed := doc["request_object_encryption_alg_values_supported"].([]string)
		if listed != par || (par && !slices.Equal(got, []string{"RSA-OAEP-256"})) {
			t.Errorf("PAR enabled %v: request_object_encryption_alg_values_supported = %v", par, doc["request_object_encryption_alg_values_supported"])
		}
	}
}
