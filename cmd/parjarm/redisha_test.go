package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/internal/redistest"
)

// The PARJARM_REDIS_* variables of each mode reach the store: run serves
// pushes from Sentinel and Cluster, and PARJARM_REDIS_MIN_REPLICAS makes a
// push that no replica acknowledged a 503.
func TestRunUsesTheConfiguredRedisMode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        func(t *testing.T) map[string]string
		wantStatus int
		wantError  string
	}{
		{"sentinel", func(t *testing.T) map[string]string {
			s := redistest.StartSentinel(t)
			return map[string]string{"PARJARM_REDIS_SENTINEL_MASTER": redistest.SentinelMaster, "PARJARM_REDIS_SENTINEL_ADDRS": strings.Join(s.Addrs(), ","),
				"PARJARM_REDIS_MIN_REPLICAS": "1", "PARJARM_REDIS_TIMEOUT": "2s"}
		}, http.StatusCreated, ""},
		{"cluster", func(t *testing.T) map[string]string {
			return map[string]string{"PARJARM_REDIS_CLUSTER_ADDRS": strings.Join(redistest.StartCluster(t, 3).Addrs(), ",")}
		}, http.StatusCreated, ""},
		{"standalone without replica, one must acknowledge", func(t *testing.T) map[string]string {
			return map[string]string{"PARJARM_REDIS_URL": redistest.Start(t).URL(), "PARJARM_REDIS_MIN_REPLICAS": "1"}
		}, http.StatusServiceUnavailable, "temporarily_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			issuer, _, env := gatewayEnv(t)
			for k, v := range tc.env(t) {
				env[k] = v
			}
			startGateway(t, env)

			form := url.Values{"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}}
			req, _ := http.NewRequest(http.MethodPost, issuer+"/par", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("app", "app-secret-0123456789")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				RequestURI string `json:"request_uri"`
				Error      string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.wantStatus || body.Error != tc.wantError {
				t.Fatalf("push: %d %q, want %d %q", resp.StatusCode, body.Error, tc.wantStatus, tc.wantError)
			}
			if tc.wantStatus == http.StatusCreated && body.RequestURI == "" {
				t.Fatal("push answered 201 without a request_uri")
			}
		})
	}
}
