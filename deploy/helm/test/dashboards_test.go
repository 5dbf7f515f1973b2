package test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

const (
	dashboardFile = "../../grafana/parjarm.json"
	rulesFile     = "../../prometheus/parjarm-rules.yaml"
)

// exportedSeries lists every series name the gateway's metrics package exports, with the
// label names each may carry: the collectors of metrics.New, described as Prometheus would
// see them (a histogram exports _bucket with le, _sum and _count).
func exportedSeries(t *testing.T) map[string][]string {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry())
	descName := regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	series := map[string][]string{}
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok {
			t.Fatalf("metrics.Metrics.%s is not a collector", v.Type().Field(i).Name)
		}
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			s := d.String()
			name := descName.FindStringSubmatch(s)
			labels := descLabels.FindStringSubmatch(s)
			if name == nil || labels == nil {
				t.Fatalf("cannot read the descriptor %s", s)
			}
			var names []string
			if labels[1] != "" {
				names = strings.Split(labels[1], ",")
			}
			if _, isHistogram := c.(*prometheus.HistogramVec); isHistogram {
				series[name[1]+"_bucket"] = append(append([]string{}, names...), "le")
				series[name[1]+"_sum"] = names
				series[name[1]+"_count"] = names
			} else {
				series[name[1]] = names
			}
		}
	}
	if len(series) < 7 {
		t.Fatalf("only %d series read from package metrics: %v", len(series), series)
	}
	return series
}

var (
	metricRef    = regexp.MustCompile(`\bparjarm_[a-z0-9_]+`)
	selectorRef  = regexp.MustCompile(`\b(parjarm_[a-z0-9_]+)\{([^}]*)\}`)
	matcherLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	groupingRef  = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// promql parses PromQL as Prometheus does by default.
var promql = parser.NewParser(parser.Options{})

// scrapeLabels are the labels Prometheus adds to every scraped series (job, instance) and the
// Prometheus Operator's target labels (namespace, pod, service, container, endpoint).
var scrapeLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

// checkExpr reports the problems of one PromQL expression to t.
func checkExpr(t *testing.T, where, expr string, series map[string][]string) {
	t.Helper()
	for _, p := range exprProblems(expr, series) {
		t.Errorf("%s: %s", where, p)
	}
}

// exprProblems checks one PromQL expression: every parjarm_ name is a series the gateway
// exports, every label matched on such a series is one it carries (or a scrape label), and
// every label it groups by is carried by one of the expression's series.
func exprProblems(expr string, series map[string][]string) []string {
	var problems []string
	names := metricRef.FindAllString(expr, -1)
	if len(names) == 0 && !strings.Contains(expr, "go_") && !strings.Contains(expr, "process_") {
		problems = append(problems, fmt.Sprintf("no parjarm_ series in %q", expr))
	}
	carried := map[string]bool{}
	for _, l := range scrapeLabels {
		carried[l] = true
	}
	for _, n := range names {
		labels, ok := series[n]
		if !ok {
			problems = append(problems, n+" is not exported by package metrics")
			continue
		}
		for _, l := range labels {
			carried[l] = true
		}
	}
	for _, sel := range selectorRef.FindAllStringSubmatch(expr, -1) {
		known := map[string]bool{}
		for _, l := range append(series[sel[1]], scrapeLabels...) {
			known[l] = true
		}
		for _, m := range matcherLabel.FindAllStringSubmatch(sel[2], -1) {
			if !known[m[1]] {
				problems = append(problems, fmt.Sprintf("%s has no label %q", sel[1], m[1]))
			}
		}
	}
	for _, g := range groupingRef.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !carried[l] {
				problems = append(problems, fmt.Sprintf("groups by %q, which none of its series carries", l))
			}
		}
	}
	return problems
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboard: deploy/grafana/parjarm.json parses, every panel queries the data source
// variable, and every query names only series and labels the gateway exports. Panels for the
// metrics the issue asks for are there.
func TestDashboard(t *testing.T) {
	series := exportedSeries(t)
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID != "parjarm" || d.Title == "" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["job"] {
		t.Errorf("dashboard variables %v: want datasource and job", vars)
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		where := "panel " + p.Title
		if ids[p.ID] {
			t.Errorf("%s: duplicate id %d", where, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24 columns", where, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource must be the ${datasource} variable", where)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", where)
		}
		for _, tg := range p.Targets {
			checkExpr(t, where, tg.Expr, series)
			// Grafana fills in its variables before Prometheus parses the query.
			q := strings.NewReplacer(`$job`, `.*`, `$__rate_interval`, `5m`).Replace(tg.Expr)
			if _, err := promql.ParseExpr(q); err != nil {
				t.Errorf("%s: PromQL does not parse: %v\n%s", where, err, tg.Expr)
			}
			if strings.Contains(tg.Expr, "parjarm_") && !strings.Contains(tg.Expr, `job=~"$job"`) {
				t.Errorf("%s: query does not filter on $job: %s", where, tg.Expr)
			}
			for _, n := range metricRef.FindAllString(tg.Expr, -1) {
				used[n] = true
			}
		}
	}
	// Every series the gateway exports is on the dashboard (a new metric needs a panel).
	var missing []string
	for n := range series {
		if !used[n] && !strings.HasSuffix(n, "_sum") {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no panel shows %v", missing)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertRules: deploy/prometheus/parjarm-rules.yaml has the rule-file shape (decoded
// strictly: a misspelt key fails), every alert has a severity, a summary and a description,
// its expression names only exported series and labels, and the alerts the issue asks for
// exist.
func TestAlertRules(t *testing.T) {
	series := exportedSeries(t)
	var rf ruleFile
	if err := yaml.UnmarshalStrict(readFile(t, rulesFile), &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	// Prometheus's own rule file parser: unknown keys, PromQL, durations, label and annotation
	// templates, as prometheus --config.file and promtool check rules would refuse them.
	if _, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, promql, slog.New(slog.NewTextHandler(io.Discard, nil))); len(errs) > 0 {
		t.Fatalf("rulefmt: %v", errs)
	}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a name and rules are needed", g.Name)
		}
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" || alerts[r.Alert] {
				t.Errorf("%s: empty or duplicate alert name", where)
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description annotations are needed", where)
			}
			if r.For == "" {
				t.Errorf("%s: no for: a single bad scrape would page", where)
			}
			if strings.Contains(r.Expr, "$") {
				t.Errorf("%s: Grafana variables do not exist in Prometheus: %s", where, r.Expr)
			}
			checkExpr(t, where, r.Expr, series)
		}
	}
	for _, want := range []string{"ParjarmPushErrorRatioHigh", "ParjarmServerErrors", "ParjarmStoreUnavailable", "ParjarmUpstreamLatencyHigh"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestExprProblems: the expression check catches a misspelt series, a label a series does not
// carry and a grouping by a label no series has.
func TestExprProblems(t *testing.T) {
	series := map[string][]string{"parjarm_x_total": {"code"}, "parjarm_h_bucket": {"class", "le"}}
	for _, tc := range []struct {
		expr string
		want string
	}{
		{`sum by (code) (rate(parjarm_x_total{job=~"$job",code="a"}[5m]))`, ""},
		{`histogram_quantile(0.9, sum by (le) (rate(parjarm_h_bucket[5m])))`, ""},
		{`rate(parjarm_y_total[5m])`, "parjarm_y_total is not exported"},
		{`rate(parjarm_x_total{outcome="a"}[5m])`, `parjarm_x_total has no label "outcome"`},
		{`sum by (mode) (rate(parjarm_x_total[5m]))`, `groups by "mode"`},
		{`sum(rate(http_requests_total[5m]))`, "no parjarm_ series"},
	} {
		got := strings.Join(exprProblems(tc.expr, series), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.expr, got, tc.want)
		}
	}
}
