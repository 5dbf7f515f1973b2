// Package test renders the parjarm Helm chart (deploy/helm/parjarm) in-process with the Helm SDK
// for each value set in its ci/ folder, decodes every rendered document strictly into the
// Kubernetes API types (an unknown or misspelt field fails), checks that the documents agree
// with each other (selectors, named ports, volumes, Secret keys), and loads the gateway
// environment they produce with the gateway's own configuration loader.
//
// It is a module of its own so that Helm and the Kubernetes API types never become
// dependencies of the gateway.
package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../parjarm"
	releaseName = "parjarm"
	namespace   = "auth"
)

// rendered holds the typed documents of one render.
type rendered struct {
	deployment     *appsv1.Deployment
	configMap      *corev1.ConfigMap
	secret         *corev1.Secret // the chart's own; nil when it makes none
	services       map[string]*corev1.Service
	pdb            *policyv1.PodDisruptionBudget
	serviceAccount *corev1.ServiceAccount
	serviceMonitor *monitoringv1.ServiceMonitor
	notes          string
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// render renders the chart with vals as helm install would (strict: a template that reads a
// value the chart does not define fails) and returns the manifests by template name.
func render(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, top)
}

func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "ci", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return vals
}

// decodeStrict decodes one YAML document into out and fails on unknown or duplicate fields.
func decodeStrict(doc string, out any) error {
	return yaml.UnmarshalStrict([]byte(doc), out)
}

// decodeAll splits every rendered template into its documents and decodes each strictly into
// the type its apiVersion and kind name. A kind the test does not know fails: the chart makes
// nothing the test does not check.
func decodeAll(t *testing.T, manifests map[string]string) *rendered {
	t.Helper()
	r := &rendered{services: map[string]*corev1.Service{}}
	names := make([]string, 0, len(manifests))
	for name := range manifests {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := manifests[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			r.notes = body
			continue
		}
		if strings.HasSuffix(name, ".tpl") {
			if strings.TrimSpace(body) != "" {
				t.Errorf("%s renders text outside a document: %q", name, body)
			}
			continue
		}
		for i, doc := range splitDocuments(body) {
			where := fmt.Sprintf("%s document %d", name, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v\n%s", where, err, doc)
			}
			var err error
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				if r.deployment != nil {
					t.Fatalf("%s: a second Deployment", where)
				}
				r.deployment = &appsv1.Deployment{}
				err = decodeStrict(doc, r.deployment)
			case "v1 ConfigMap":
				if r.configMap != nil {
					t.Fatalf("%s: a second ConfigMap", where)
				}
				r.configMap = &corev1.ConfigMap{}
				err = decodeStrict(doc, r.configMap)
			case "v1 Secret":
				if r.secret != nil {
					t.Fatalf("%s: a second Secret", where)
				}
				r.secret = &corev1.Secret{}
				err = decodeStrict(doc, r.secret)
			case "v1 Service":
				svc := &corev1.Service{}
				err = decodeStrict(doc, svc)
				r.services[svc.Name] = svc
			case "v1 ServiceAccount":
				r.serviceAccount = &corev1.ServiceAccount{}
				err = decodeStrict(doc, r.serviceAccount)
			case "policy/v1 PodDisruptionBudget":
				r.pdb = &policyv1.PodDisruptionBudget{}
				err = decodeStrict(doc, r.pdb)
			case "monitoring.coreos.com/v1 ServiceMonitor":
				// The Prometheus Operator's own Go types: strict as for the built-in kinds.
				r.serviceMonitor = &monitoringv1.ServiceMonitor{}
				err = decodeStrict(doc, r.serviceMonitor)
			default:
				t.Fatalf("%s: kind %q of apiVersion %q is not checked by this test", where, tm.Kind, tm.APIVersion)
			}
			if err != nil {
				t.Fatalf("%s (%s): strict decoding: %v\n%s", where, tm.Kind, err, doc)
			}
		}
	}
	if r.deployment == nil || r.configMap == nil {
		t.Fatal("no Deployment or no ConfigMap rendered")
	}
	return r
}

// splitDocuments splits a multi-document YAML stream, dropping documents that hold only
// comments or whitespace.
func splitDocuments(body string) []string {
	var docs []string
	for _, part := range strings.Split("\n"+body, "\n---") {
		keep := false
		for _, line := range strings.Split(part, "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				keep = true
				break
			}
		}
		if keep {
			docs = append(docs, part)
		}
	}
	return docs
}

// mustRender renders a value set that must render, decodes it and checks its consistency.
func mustRender(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	manifests, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := decodeAll(t, manifests)
	checkConsistent(t, r)
	return r
}

func (r *rendered) gateway(t *testing.T) *corev1.Container {
	t.Helper()
	for i := range r.deployment.Spec.Template.Spec.Containers {
		if c := &r.deployment.Spec.Template.Spec.Containers[i]; c.Name == "parjarm" {
			return c
		}
	}
	t.Fatal("no container named parjarm")
	return nil
}

func containerPort(c *corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func selects(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkConsistent checks what strict decoding cannot: that the documents point at each other
// correctly, and what every value set must keep.
func checkConsistent(t *testing.T, r *rendered) {
	t.Helper()
	d := r.deployment
	pod := d.Spec.Template
	if !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its pod labels %v", d.Spec.Selector.MatchLabels, pod.Labels)
	}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		t.Error("enableServiceLinks must be false: service links add PARJARM_* variables the gateway refuses")
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the service account token must not be mounted")
	}
	if r.serviceAccount == nil || pod.Spec.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("serviceAccountName %q names no rendered ServiceAccount", pod.Spec.ServiceAccountName)
	}
	gw := r.gateway(t)

	// Security: non-root, read-only root filesystem, no privilege escalation, no capabilities.
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext must run as a non-root uid: %+v", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile must be RuntimeDefault")
	}
	sc := gw.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("gateway readOnlyRootFilesystem must be true")
	}
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("gateway runAsNonRoot must be true")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("gateway allowPrivilegeEscalation must be false")
	}
	if sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Error("gateway must drop ALL capabilities")
	}

	// Probes: startup and liveness on /healthz, readiness on /readyz, all on the admin port.
	adminPort, ok := containerPort(gw, "admin")
	if !ok {
		t.Fatal("gateway has no port named admin")
	}
	httpPort, ok := containerPort(gw, "http")
	if !ok {
		t.Fatal("gateway has no port named http")
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", gw.StartupProbe, "/healthz"},
		{"livenessProbe", gw.LivenessProbe, "/healthz"},
		{"readinessProbe", gw.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("gateway %s: want an httpGet probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("admin") {
			t.Errorf("gateway %s: got %s on %s, want %s on the admin port", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}
	// The startup probe must outlast PARJARM_STARTUP_TIMEOUT's default of 60s, during which the
	// gateway waits for the upstream's discovery document before it listens.
	if sp := gw.StartupProbe; sp != nil && sp.PeriodSeconds*sp.FailureThreshold < 60 {
		t.Errorf("startup probe allows %ds, less than PARJARM_STARTUP_TIMEOUT's 60s", sp.PeriodSeconds*sp.FailureThreshold)
	}

	// The environment: all plain settings from the ConfigMap, secret ones from Secrets.
	if len(gw.EnvFrom) != 1 || gw.EnvFrom[0].ConfigMapRef == nil || gw.EnvFrom[0].ConfigMapRef.Name != r.configMap.Name {
		t.Errorf("gateway envFrom must be the rendered ConfigMap %q: %+v", r.configMap.Name, gw.EnvFrom)
	}
	cm := r.configMap.Data
	if cm["PARJARM_LISTEN_ADDR"] != fmt.Sprintf(":%d", httpPort) || cm["PARJARM_ADMIN_ADDR"] != fmt.Sprintf(":%d", adminPort) {
		t.Errorf("listen addresses %q / %q do not match the container ports %d / %d", cm["PARJARM_LISTEN_ADDR"], cm["PARJARM_ADMIN_ADDR"], httpPort, adminPort)
	}
	for _, e := range gw.Env {
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("env %s: only secret values are set outside the ConfigMap, from a Secret", e.Name)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if r.secret != nil && ref.Name == r.secret.Name {
			if _, ok := r.secret.Data[ref.Key]; !ok {
				t.Errorf("env %s: key %q is not in the chart's Secret", e.Name, ref.Key)
			}
		}
		if _, dup := cm[e.Name]; dup {
			t.Errorf("env %s is set both from the ConfigMap and from a Secret", e.Name)
		}
	}
	for key := range cm {
		if strings.Contains(key, "PASSWORD") || key == "PARJARM_REDIS_URL" {
			t.Errorf("ConfigMap holds the secret %s", key)
		}
	}

	// Volumes: every mount names a volume, every file variable points into a mount, and every
	// key a volume projects from the chart's Secret exists.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("container %s mounts the undefined volume %q", c.Name, m.Name)
			}
		}
	}
	for _, v := range []string{"PARJARM_CLIENTS_FILE", "PARJARM_SIGNING_KEYS_FILE"} {
		path, ok := cm[v]
		if !ok {
			continue
		}
		found := false
		for _, m := range gw.VolumeMounts {
			vol := volumes[m.Name]
			if vol.Secret == nil || !m.ReadOnly || filepath.Dir(path) != m.MountPath {
				continue
			}
			for _, item := range vol.Secret.Items {
				if item.Path == filepath.Base(path) {
					found = true
					if r.secret != nil && vol.Secret.SecretName == r.secret.Name {
						if _, ok := r.secret.Data[item.Key]; !ok {
							t.Errorf("%s: key %q is not in the chart's Secret", v, item.Key)
						}
					}
				}
			}
		}
		if !found {
			t.Errorf("%s=%s is not a file of a read-only Secret mount", v, path)
		}
	}

	// Services: the public one targets the gateway's http port and never the admin port.
	public := r.services[releaseName]
	if public == nil {
		t.Fatalf("no Service %q", releaseName)
	}
	if !selects(public.Spec.Selector, pod.Labels) {
		t.Errorf("Service %s selector %v does not select the pods %v", public.Name, public.Spec.Selector, pod.Labels)
	}
	if len(public.Spec.Ports) != 1 || public.Spec.Ports[0].TargetPort != intstr.FromString("http") {
		t.Errorf("Service %s must have one port targeting the gateway's http port: %+v", public.Name, public.Spec.Ports)
	}
	if m := r.services[releaseName+"-metrics"]; m != nil {
		if !selects(m.Spec.Selector, pod.Labels) || len(m.Spec.Ports) != 1 || m.Spec.Ports[0].TargetPort != intstr.FromString("admin") {
			t.Errorf("metrics Service must select the pods and target the admin port: %+v", m.Spec)
		}
	}
	if sm := r.serviceMonitor; sm != nil {
		m := r.services[releaseName+"-metrics"]
		if m == nil {
			t.Fatal("ServiceMonitor without a metrics Service")
		}
		if !selects(sm.Spec.Selector.MatchLabels, m.Labels) || selects(sm.Spec.Selector.MatchLabels, public.Labels) {
			t.Errorf("ServiceMonitor selector %v must select the metrics Service only", sm.Spec.Selector.MatchLabels)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != m.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v must scrape /metrics on port %q", sm.Spec.Endpoints, m.Spec.Ports[0].Name)
		}
	}
	if r.pdb != nil && !selects(r.pdb.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods", r.pdb.Spec.Selector.MatchLabels)
	}
	// Every document sits in the release namespace.
	for _, o := range []metav1.Object{d, r.configMap, public} {
		if o.GetNamespace() != namespace {
			t.Errorf("%s is in namespace %q, want %q", o.GetName(), o.GetNamespace(), namespace)
		}
	}
}

func envNames(c *corev1.Container) []string {
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	return names
}

func secretRef(t *testing.T, c *corev1.Container, name string) *corev1.SecretKeySelector {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef
		}
	}
	t.Fatalf("%s is not set from a Secret (env: %v)", name, envNames(c))
	return nil
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// TestDecodeStrict: the decoding the value sets pass refuses what the API server would prune
// or reject: a misspelt field, a field at the wrong level, a duplicate key, a wrong type.
func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		into any
	}{
		{"misspelt field", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 3\n", &appsv1.Deployment{}},
		{"field at the wrong level", "apiVersion: v1\nkind: Service\nports: []\n", &corev1.Service{}},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\ndata:\n  A: x\n  A: y\n", &corev1.ConfigMap{}},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: three\n", &appsv1.Deployment{}},
		{"ServiceMonitor field", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nspec:\n  endpoints:\n    - port: admin\n      scrapeEvery: 30s\n", &monitoringv1.ServiceMonitor{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := decodeStrict(tc.doc, tc.into); err == nil {
				t.Fatalf("decoded without error:\n%s", tc.doc)
			}
		})
	}
	var ok appsv1.Deployment
	if err := decodeStrict("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 3\n", &ok); err != nil || *ok.Spec.Replicas != 3 {
		t.Fatalf("a valid document: %v", err)
	}
}
