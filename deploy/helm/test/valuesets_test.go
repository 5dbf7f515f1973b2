package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/config"
	"github.com/parjarm/parjarm/jarm"
	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// gatewayEnviron is the environment the gateway container gets: the ConfigMap's variables and
// the Secret-backed ones, resolved from the chart's own Secret or, for a Secret that exists
// outside the chart, a placeholder of the right form.
func gatewayEnviron(t *testing.T, r *rendered) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range r.configMap.Data {
		env[k] = v
	}
	for _, e := range r.gateway(t).Env {
		ref := e.ValueFrom.SecretKeyRef
		switch {
		case r.secret != nil && ref.Name == r.secret.Name:
			env[e.Name] = string(r.secret.Data[ref.Key])
		case e.Name == "PARJARM_REDIS_URL":
			env[e.Name] = "redis://:placeholder@redis:6379/0"
		default:
			env[e.Name] = "placeholder-from-" + ref.Name
		}
	}
	return env
}

// TestValueSetsLoad renders every value set of ci/ and loads the environment it gives the
// gateway with the gateway's own loader (config.Load, as at start-up): every PARJARM_ name is
// known, every value valid, and the store is the one the value set chose.
func TestValueSetsLoad(t *testing.T) {
	for _, tc := range []struct {
		file  string
		store string
	}{
		{"memory-values.yaml", config.StoreMemory},
		{"sentinel-values.yaml", config.StoreSentinel},
		{"cluster-values.yaml", config.StoreCluster},
		{"sidecar-values.yaml", config.StoreRedis},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := mustRender(t, valuesFile(t, tc.file))
			cfg, err := config.Load(gatewayEnviron(t, r))
			if err != nil {
				t.Fatalf("the gateway would not start with this environment:\n%v", err)
			}
			if got := cfg.StoreKind(); got != tc.store {
				t.Errorf("store %q, want %q", got, tc.store)
			}
		})
	}
}

func TestMemoryOneReplica(t *testing.T) {
	r := mustRender(t, valuesFile(t, "memory-values.yaml"))
	if got := *r.deployment.Spec.Replicas; got != 1 {
		t.Errorf("replicas %d, want 1", got)
	}
	gw := r.gateway(t)
	if gw.Image != "registry.example/parjarm:0.1.0" {
		t.Errorf("image %q", gw.Image)
	}
	cm := r.configMap.Data
	for _, v := range []string{"PARJARM_REDIS_URL", "PARJARM_REDIS_SENTINEL_ADDRS", "PARJARM_REDIS_CLUSTER_ADDRS", "PARJARM_SIGNING_KEYS_FILE"} {
		if _, ok := cm[v]; ok {
			t.Errorf("%s set for the memory store without keys", v)
		}
	}
	if len(gw.Env) != 0 {
		t.Errorf("no Secret-backed variables expected, got %v", envNames(gw))
	}
	// Extra variables pass through as strings, numbers included.
	if cm["PARJARM_MEMORY_STORE_MAX_ENTRIES"] != "50000" || cm["PARJARM_LOG_LEVEL"] != "debug" {
		t.Errorf("env values not passed through: %v", cm)
	}
	// The inline client registry lands in the chart's Secret and parses as the gateway would.
	if r.secret == nil {
		t.Fatal("no Secret for the inline client registry")
	}
	if _, err := client.Parse(r.secret.Data["clients.json"]); err != nil {
		t.Errorf("client registry in the Secret: %v", err)
	}
	if cm["PARJARM_CLIENTS_FILE"] != "/etc/parjarm/clients/clients.json" {
		t.Errorf("PARJARM_CLIENTS_FILE %q", cm["PARJARM_CLIENTS_FILE"])
	}
	if !strings.Contains(r.notes, "ephemeral development keys") {
		t.Error("NOTES must warn about the ephemeral development keys")
	}
	if r.serviceMonitor != nil {
		t.Error("ServiceMonitor rendered though serviceMonitor.enabled is false")
	}
	if r.pdb == nil || r.pdb.Spec.MaxUnavailable == nil || *r.pdb.Spec.MaxUnavailable != intstr.FromInt32(1) {
		t.Errorf("PodDisruptionBudget maxUnavailable 1 expected: %+v", r.pdb)
	}
}

func TestSentinelThreeReplicas(t *testing.T) {
	r := mustRender(t, valuesFile(t, "sentinel-values.yaml"))
	if got := *r.deployment.Spec.Replicas; got != 3 {
		t.Errorf("replicas %d, want 3", got)
	}
	gw := r.gateway(t)
	if !strings.HasSuffix(gw.Image, "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
		t.Errorf("image %q not pinned by digest", gw.Image)
	}
	cm := r.configMap.Data
	want := map[string]string{
		"PARJARM_REDIS_SENTINEL_MASTER": "parjarm",
		"PARJARM_REDIS_SENTINEL_ADDRS":  "redis-sentinel-0.redis-sentinel.redis.svc.cluster.local:26379,redis-sentinel-1.redis-sentinel.redis.svc.cluster.local:26379,redis-sentinel-2.redis-sentinel.redis.svc.cluster.local:26379",
		"PARJARM_REDIS_USERNAME":        "parjarm",
		"PARJARM_SIGNING_KEYS_FILE":     "/etc/parjarm/keys/signing-keys",
		"PARJARM_SIGNING_KEY_ID":        "sig-2026",
		"PARJARM_ISSUER":                "https://login.example/realms/bank",
		"PARJARM_REQUIRE_PAR":           "true",
		"PARJARM_RATE_LIMIT":            "50",
	}
	for k, v := range want {
		if cm[k] != v {
			t.Errorf("%s = %q, want %q", k, cm[k], v)
		}
	}
	if _, ok := cm["PARJARM_REDIS_CLUSTER_ADDRS"]; ok {
		t.Error("PARJARM_REDIS_CLUSTER_ADDRS set in sentinel mode")
	}
	for _, v := range []struct{ name, key string }{
		{"PARJARM_REDIS_PASSWORD", "redis-password"},
		{"PARJARM_REDIS_SENTINEL_PASSWORD", "redis-sentinel-password"},
	} {
		ref := secretRef(t, gw, v.name)
		if ref.Name != "parjarm" || ref.Key != v.key || ref.Optional == nil || *ref.Optional {
			t.Errorf("%s from %s/%s optional=%v, want the chart's Secret, key %s, required", v.name, ref.Name, ref.Key, ref.Optional, v.key)
		}
	}
	if got := string(r.secret.Data["redis-password"]); got != "ci-only-redis-password" {
		t.Errorf("redis-password in the Secret: %q", got)
	}
	// Keys and clients from the existing Secrets, under their own keys.
	vols := map[string]corev1.Volume{}
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	if s := vols["signing-keys"].Secret; s == nil || s.SecretName != "parjarm-signing-keys" || s.Items[0].Key != "jarm-keys.json" {
		t.Errorf("signing-keys volume: %+v", vols["signing-keys"])
	}
	if s := vols["clients"].Secret; s == nil || s.SecretName != "parjarm-clients" || s.Items[0].Key != "clients.json" {
		t.Errorf("clients volume: %+v", vols["clients"])
	}
	if _, ok := r.secret.Data["clients.json"]; ok {
		t.Error("the chart's Secret holds clients.json though clients.existingSecret is set")
	}
	sm := r.serviceMonitor
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if sm.Labels["release"] != "prometheus" || string(sm.Spec.Endpoints[0].Interval) != "30s" {
		t.Errorf("ServiceMonitor labels %v interval %q", sm.Labels, sm.Spec.Endpoints[0].Interval)
	}
	if ps := gw.Lifecycle; ps == nil || ps.PreStop == nil || ps.PreStop.Sleep == nil || ps.PreStop.Sleep.Seconds != 5 {
		t.Errorf("preStop sleep of 5s expected: %+v", gw.Lifecycle)
	}
	// The error page template from a ConfigMap of its own, mounted read-only where the variable
	// points.
	if cm["PARJARM_ERROR_TEMPLATE"] != "/etc/parjarm/errors/error.html" {
		t.Errorf("PARJARM_ERROR_TEMPLATE %q", cm["PARJARM_ERROR_TEMPLATE"])
	}
	if v := vols["error-pages"]; v.ConfigMap == nil || v.ConfigMap.Name != "parjarm-error-pages" {
		t.Errorf("error-pages volume: %+v", v)
	}
	mounted := false
	for _, m := range gw.VolumeMounts {
		mounted = mounted || (m.Name == "error-pages" && m.MountPath == "/etc/parjarm/errors" && m.ReadOnly)
	}
	if !mounted {
		t.Errorf("error-pages not mounted read-only at /etc/parjarm/errors: %+v", gw.VolumeMounts)
	}
	if len(r.deployment.Spec.Template.Spec.TopologySpreadConstraints) != 1 {
		t.Error("topologySpreadConstraints not passed through")
	}
}

func TestClusterThreeReplicas(t *testing.T) {
	r := mustRender(t, valuesFile(t, "cluster-values.yaml"))
	if got := *r.deployment.Spec.Replicas; got != 3 {
		t.Errorf("replicas %d, want 3", got)
	}
	cm := r.configMap.Data
	if got, want := cm["PARJARM_REDIS_CLUSTER_ADDRS"], "redis-cluster-0.redis-cluster.redis.svc.cluster.local:6379,redis-cluster-1.redis-cluster.redis.svc.cluster.local:6379,redis-cluster-2.redis-cluster.redis.svc.cluster.local:6379"; got != want {
		t.Errorf("PARJARM_REDIS_CLUSTER_ADDRS = %q, want %q", got, want)
	}
	if cm["PARJARM_REDIS_TLS"] != "true" || cm["PARJARM_REDIS_USERNAME"] != "parjarm" {
		t.Errorf("TLS / username: %q / %q", cm["PARJARM_REDIS_TLS"], cm["PARJARM_REDIS_USERNAME"])
	}
	for _, v := range []string{"PARJARM_REDIS_SENTINEL_ADDRS", "PARJARM_REDIS_SENTINEL_MASTER"} {
		if _, ok := cm[v]; ok {
			t.Errorf("%s set in cluster mode", v)
		}
	}
	gw := r.gateway(t)
	ref := secretRef(t, gw, "PARJARM_REDIS_PASSWORD")
	// An existing Secret may hold no password (an ACL user without one): optional.
	if ref.Name != "parjarm-redis" || ref.Key != "redis-password" || ref.Optional == nil || !*ref.Optional {
		t.Errorf("PARJARM_REDIS_PASSWORD from %s/%s optional=%v", ref.Name, ref.Key, ref.Optional)
	}
	for _, e := range gw.Env {
		if e.Name == "PARJARM_REDIS_SENTINEL_PASSWORD" {
			t.Error("PARJARM_REDIS_SENTINEL_PASSWORD set in cluster mode")
		}
	}
	if r.secret != nil {
		t.Errorf("the chart made a Secret though every secret value comes from existing ones: %v", r.secret.Data)
	}
	if r.pdb == nil || r.pdb.Spec.MinAvailable == nil || *r.pdb.Spec.MinAvailable != intstr.FromInt32(2) || r.pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PodDisruptionBudget minAvailable 2 expected: %+v", r.pdb)
	}
	if r.deployment.Spec.Template.Spec.Affinity == nil || r.deployment.Spec.Template.Spec.Affinity.PodAntiAffinity == nil {
		t.Error("affinity not passed through")
	}
}

// TestSidecar: the identity server and the gateway in one pod; the Service reaches only the
// gateway, and the gateway reaches the identity server over the pod's loopback.
func TestSidecar(t *testing.T) {
	r := mustRender(t, valuesFile(t, "sidecar-values.yaml"))
	if got := *r.deployment.Spec.Replicas; got != 2 {
		t.Errorf("replicas %d, want 2", got)
	}
	cs := r.deployment.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[0].Name != "oidc-provider" || cs[1].Name != "parjarm" {
		t.Fatalf("containers: want oidc-provider then parjarm, got %d", len(cs))
	}
	idp := cs[0]
	if idp.Image != "registry.example/parjarm-upstream:0.1.0" {
		t.Errorf("identity server image %q", idp.Image)
	}
	idpPort, ok := containerPort(&idp, "idp")
	if !ok || idpPort != 4000 {
		t.Errorf("identity server port %d, want 4000", idpPort)
	}
	if len(idp.EnvFrom) != 0 {
		t.Error("the identity server must not get the gateway's ConfigMap")
	}
	if len(idp.VolumeMounts) != 1 || idp.VolumeMounts[0].Name != "upstream-clients" {
		t.Errorf("identity server mounts: %+v", idp.VolumeMounts)
	}
	if got := r.configMap.Data["PARJARM_UPSTREAM_URL"]; got != "http://127.0.0.1:4000" {
		t.Errorf("PARJARM_UPSTREAM_URL %q, want the identity server on loopback", got)
	}
	svc := r.services["parjarm"]
	gwHTTP, _ := containerPort(r.gateway(t), "http")
	if tp := svc.Spec.Ports[0].TargetPort; tp != intstr.FromString("http") || gwHTTP != 8080 {
		t.Errorf("Service targetPort %s (gateway http %d), want the gateway's http port", tp.String(), gwHTTP)
	}
	for _, s := range r.services {
		for _, p := range s.Spec.Ports {
			if p.TargetPort == intstr.FromString("idp") || p.TargetPort == intstr.FromInt32(idpPort) {
				t.Errorf("Service %s reaches the identity server's port directly", s.Name)
			}
		}
	}
	ref := secretRef(t, r.gateway(t), "PARJARM_REDIS_URL")
	if ref.Name != "parjarm" || ref.Key != "redis-url" {
		t.Errorf("PARJARM_REDIS_URL from %s/%s", ref.Name, ref.Key)
	}
	if strings.Contains(strings.Join(envNames(r.gateway(t)), ","), "PARJARM_REDIS_PASSWORD") {
		t.Error("PARJARM_REDIS_PASSWORD set with a standalone URL")
	}
}

// TestInlineSigningKeys: keys given inline land in the chart's Secret, mounted where
// PARJARM_SIGNING_KEYS_FILE points, and parse as the gateway parses them.
func TestInlineSigningKeys(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keysPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	vals := valuesFile(t, "memory-values.yaml")
	vals["signingKeys"] = map[string]any{"keys": keysPEM}
	r := mustRender(t, vals)
	if r.configMap.Data["PARJARM_SIGNING_KEYS_FILE"] != "/etc/parjarm/keys/signing-keys" {
		t.Errorf("PARJARM_SIGNING_KEYS_FILE %q", r.configMap.Data["PARJARM_SIGNING_KEYS_FILE"])
	}
	if _, err := jarm.ParseKeys(r.secret.Data["signing-keys"]); err != nil {
		t.Errorf("signing keys in the Secret: %v", err)
	}
	if strings.Contains(r.notes, "ephemeral") {
		t.Error("NOTES warn about ephemeral keys though keys are set")
	}
}

// TestRefused: value sets the gateway could not run with stop rendering with a message that
// names the value to fix.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		base string
		edit func(v map[string]any)
		want string
	}{
		{"no upstream", "", func(v map[string]any) {}, "upstreamURL is required"},
		{"memory with 3 replicas", "memory-values.yaml", func(v map[string]any) {
			v["replicaCount"] = 3
			v["signingKeys"] = map[string]any{"existingSecret": "k"}
		}, "the memory store serves a single instance only"},
		{"3 replicas without keys", "cluster-values.yaml", func(v map[string]any) {
			v["signingKeys"] = map[string]any{"existingSecret": ""}
		}, "replicaCount > 1 needs signingKeys"},
		{"unknown redis mode", "memory-values.yaml", func(v map[string]any) {
			v["redis"] = map[string]any{"mode": "redis"}
		}, `redis.mode "redis"`},
		{"sentinel without addrs", "sentinel-values.yaml", func(v map[string]any) {
			v["redis"].(map[string]any)["sentinel"] = map[string]any{"masterName": "m", "addrs": []any{}}
		}, "needs redis.sentinel.masterName and redis.sentinel.addrs"},
		{"cluster without addrs", "cluster-values.yaml", func(v map[string]any) {
			v["redis"].(map[string]any)["cluster"] = map[string]any{"addrs": []any{}}
		}, "redis.mode cluster needs redis.cluster.addrs"},
		{"standalone with a password", "sidecar-values.yaml", func(v map[string]any) {
			v["redis"].(map[string]any)["password"] = "p"
		}, "a standalone redis.url carries its own"},
		{"cluster addrs in sentinel mode", "sentinel-values.yaml", func(v map[string]any) {
			v["redis"].(map[string]any)["cluster"] = map[string]any{"addrs": []any{"a:1"}}
		}, "redis.cluster.addrs is for redis.mode cluster"},
		{"secret and inline password", "cluster-values.yaml", func(v map[string]any) {
			v["redis"].(map[string]any)["password"] = "p"
		}, "not both"},
		{"chart-managed variable in env", "memory-values.yaml", func(v map[string]any) {
			v["env"] = map[string]any{"PARJARM_REDIS_PASSWORD": "x"}
		}, "env.PARJARM_REDIS_PASSWORD is set by the chart"},
		{"non-PARJARM variable in env", "memory-values.yaml", func(v map[string]any) {
			v["env"] = map[string]any{"HTTP_PROXY": "x"}
		}, "only PARJARM_* variables"},
		{"same ports", "memory-values.yaml", func(v map[string]any) {
			v["ports"] = map[string]any{"http": 9090, "admin": 9090}
		}, "ports.http and ports.admin must differ"},
		{"identity server on the gateway's port", "sidecar-values.yaml", func(v map[string]any) {
			v["identityServer"].(map[string]any)["port"] = 8080
		}, "identityServer.port must differ"},
		{"both PDB bounds", "memory-values.yaml", func(v map[string]any) {
			v["podDisruptionBudget"] = map[string]any{"minAvailable": 1, "maxUnavailable": 1}
		}, "set minAvailable or maxUnavailable, not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			if tc.base != "" {
				vals = valuesFile(t, tc.base)
			}
			tc.edit(vals)
			_, err := render(t, vals)
			if err == nil {
				t.Fatalf("rendered; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestReadme: the README's Kubernetes section names every value set CI renders, and its sidecar
// snippet renders, validates and gives the gateway an environment it starts with.
func TestReadme(t *testing.T) {
	readme := string(readFile(t, "../../../README.md"))
	sets, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil || len(sets) != 4 {
		t.Fatalf("value sets %v (%v): want the four the tests render", sets, err)
	}
	for _, f := range sets {
		if !strings.Contains(readme, "deploy/helm/parjarm/ci/"+filepath.Base(f)) {
			t.Errorf("README does not name the value set %s", filepath.Base(f))
		}
	}
	_, after, ok := strings.Cut(readme, "### The sidecar pattern\n")
	if !ok {
		t.Fatal(`README has no "### The sidecar pattern" section`)
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("the sidecar section has no yaml snippet")
	}
	block, _, _ = strings.Cut(block, "```")
	vals, err := chartutil.ReadValues([]byte(block))
	if err != nil {
		t.Fatalf("the README's sidecar snippet: %v", err)
	}
	r := mustRender(t, vals)
	if len(r.deployment.Spec.Template.Spec.Containers) != 2 || r.configMap.Data["PARJARM_UPSTREAM_URL"] != "http://127.0.0.1:4000" {
		t.Errorf("the README's sidecar snippet does not render the sidecar pattern")
	}
	if _, err := config.Load(gatewayEnviron(t, r)); err != nil {
		t.Errorf("the README's sidecar snippet: the gateway would not start: %v", err)
	}
}
