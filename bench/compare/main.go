// Command compare runs the gateway side by side with its peers on
// 127.0.0.1 and prints throughput and latency ratios measured in the same
// run:
//
//   - PAR push: the gateway's POST /par (Redis store) against node
//     oidc-provider's own PAR endpoint (POST /request);
//   - flow + JARM ES256: push, authorization request by reference, the
//     legacy upstream's redirect and the JARM response (the gateway), against
//     oidc-provider's push and authorization with a signed-in user who has
//     consented before (no interaction during the run);
//   - pass-through: GET /hello through the gateway against a bare
//     httputil.ReverseProxy in front of the same stand-in upstream.
//
// Each scenario alternates the two systems for -reps repetitions of
// -duration at -conns connections (closed loop: each connection starts its
// next operation when the last one ends), so that both see the same machine
// load. The gateway's RSS is sampled during its runs.
//
// Usage: go build -o bin/parjarm-compare ./bench/compare && bin/parjarm-compare -gateway bin/parjarm
// (scripts/bench.sh compare does both and records the output).
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

// The client registered at the gateway and at the peer alike.
const (
	clientID     = "bench-client"
	clientSecret = "bench-secret-0123456789-0123456789-abcdef"
	redirectURI  = "https://client.example/cb"
	// A fixed PKCE challenge: neither side redeems the code here.
	codeChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

type options struct {
	gateway, node, peer, redis string
	duration                   time.Duration
	reps, conns                int
	cpuProfile                 string
	profileSecs                int
	scenarios                  string
	profileScenario            string
}

func main() {
	var o options
	flag.StringVar(&o.gateway, "gateway", "bin/parjarm", "path of the built parjarm binary")
	flag.StringVar(&o.node, "node", "node", "node executable (the peer)")
	flag.StringVar(&o.peer, "peer", "bench/compare/peer.mjs", "the peer's script")
	flag.StringVar(&o.redis, "redis-server", "redis-server", "redis-server executable")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of one measured run")
	flag.IntVar(&o.reps, "reps", 2, "repetitions of each scenario per system (alternating)")
	flag.IntVar(&o.conns, "conns", 64, "concurrent connections")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the gateway under the load of -profile-scenario to this file (an extra run, not measured)")
	flag.IntVar(&o.profileSecs, "profile-seconds", 20, "length of the CPU profile")
	flag.StringVar(&o.profileScenario, "profile-scenario", "flow", "the scenario under whose load -cpuprofile profiles the gateway: push, flow or pass")
	serveBareUpstream := flag.String("serve-bare", "", "internal: serve the bare httputil proxy in front of this upstream URL")
	flag.StringVar(&o.scenarios, "scenarios", "push,flow,pass", "scenarios to run, comma-separated: push, flow, pass")
	flag.Parse()
	if *serveBareUpstream != "" {
		if err := serveBare(*serveBareUpstream); err != nil {
			fmt.Fprintln(os.Stderr, "compare: bare proxy:", err)
			os.Exit(1)
		}
		return
	}
	if o.reps < 1 || o.conns < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "compare: -reps, -conns and -duration must be positive")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "parjarm-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	redis, err := procs.StartRedis(ctx, o.redis, filepath.Join(dir, "redis"))
	if err != nil {
		return err
	}
	defer redis.Stop()
	gw, up, err := startGateway(ctx, o.gateway, dir, redis.Addr)
	if err != nil {
		return err
	}
	defer up.Close()
	defer func() { _ = gw.Stop() }()
	bare, err := startBareProxy(up.URL)
	if err != nil {
		return err
	}
	defer bare.Close()
	peer, err := startPeer(ctx, o.node, o.peer, dir)
	if err != nil {
		return err
	}
	defer peer.stop()
	cookie, err := peer.signIn(ctx)
	if err != nil {
		return err
	}

	// The gateway's operations cost its own CPU and Redis's; the peer keeps
	// its state in its own process; the bare proxy runs in its own.
	gateway := system{name: "gateway", base: gw.Public, rss: gw.RSSKiB, pids: []int{gw.Pid(), redis.Pid()}}
	peerSys := system{name: "oidc-provider", base: peer.url, cookie: cookie, pids: []int{peer.cmd.Process.Pid}}
	bareSys := system{name: "httputil", base: bare.url, pids: []int{bare.cmd.Process.Pid}}

	type pair struct {
		key, title string
		a, b       system
		opA, opB   op
	}
	all := []pair{
		{"push", "PAR push", gateway, peerSys, pushOp("/par"), pushOp("/request")},
		{"flow", "flow + JARM ES256", gateway, peerSys, flowOp("/par", "/authorize"), flowOp("/request", "/auth")},
		{"pass", "pass-through", gateway, bareSys, passOp, passOp},
	}
	want := strings.Split(o.scenarios, ",")
	fmt.Printf("parjarm compare: %d × %s per system and scenario, %d connections, alternating\n", o.reps, o.duration, o.conns)
	var rows []row
	for _, p := range all {
		if !slices.Contains(want, p.key) {
			continue
		}
		// A short warm-up of each side (connections, JIT, caches).
		for _, w := range []struct {
			s  system
			op op
		}{{p.a, p.opA}, {p.b, p.opB}} {
			_ = measure(ctx, w.s, w.op, o.conns, 2*time.Second)
		}
		r := row{title: p.title, a: p.a.name, b: p.b.name}
		for i := range o.reps {
			ra := measure(ctx, p.a, p.opA, o.conns, o.duration)
			rb := measure(ctx, p.b, p.opB, o.conns, o.duration)
			fmt.Printf("  %-18s rep %d: %-13s %6.0f/s (p50 %v, p99 %v, errors %d, driver %v/op)  %-13s %6.0f/s (p50 %v, p99 %v, errors %d, driver %v/op)  load %s\n",
				p.title, i+1, p.a.name, ra.rate(), ra.pct(50), ra.pct(99), ra.failed, ra.driverPerOp(), p.b.name, rb.rate(), rb.pct(50), rb.pct(99), rb.failed, rb.driverPerOp(), loadavg())
			for _, e := range []result{ra, rb} {
				for k, n := range e.kinds {
					fmt.Printf("      %d × %s\n", n, k)
				}
			}
			r.ra = append(r.ra, ra)
			r.rb = append(r.rb, rb)
		}
		rows = append(rows, r)
		if p.key == o.profileScenario && o.cpuProfile != "" {
			if err := profileUnderLoad(ctx, gw, p.a, p.opA, o); err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
		}
	}
	printTable(rows)
	if err := gw.Stop(); err != nil {
		return err
	}
	for _, r := range rows {
		for _, x := range append(slices.Clone(r.ra), r.rb...) {
			if x.failed > 0 {
				return errors.New("some operations failed (see above)")
			}
		}
	}
	return nil
}

// profileUnderLoad fetches a CPU profile of the gateway while the load of
// one scenario runs (a run of its own, not counted).
func profileUnderLoad(ctx context.Context, gw *procs.Gateway, s system, o0 op, o options) error {
	done := make(chan error, 1)
	go func() { done <- gw.CPUProfile(ctx, o.profileSecs, o.cpuProfile) }()
	time.Sleep(200 * time.Millisecond)
	r := measure(ctx, s, o0, o.conns, time.Duration(o.profileSecs)*time.Second+time.Second)
	fmt.Printf("  profiled run (not counted): %s %.0f/s, CPU profile in %s\n", s.name, r.rate(), o.cpuProfile)
	return <-done
}

// system is one side of a comparison.
type system struct {
	name   string
	base   string
	cookie string              // sent with every request (the peer's session)
	rss    func() (int, error) // the process's RSS in KiB, if measured
	pids   []int               // the processes whose CPU time its operations cost
}

// op runs one operation (a push, a flow, a GET) against a system over the
// load worker's own connection; seq makes its state unique.
type op func(ctx context.Context, s system, w *wire, seq int64) error

// header lines of every request to s.
func (s system) header(extra ...string) []string {
	if s.cookie != "" {
		extra = append(extra, "Cookie: "+s.cookie)
	}
	return extra
}

func authForm(state string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"scope": {"openid"}, "state": {state}, "response_mode": {"query.jwt"},
		"code_challenge": {codeChallenge}, "code_challenge_method": {"S256"},
	}
}

// basicAuth is the client's Authorization header (RFC 6749, section 2.3.1).
var basicAuth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"+url.QueryEscape(clientSecret)))

// push sends a pushed authorization request and returns its request_uri.
func push(s system, w *wire, path, state string) (string, error) {
	rep, err := w.do(request{
		method: "POST", target: path, body: authForm(state).Encode(),
		header: s.header("Content-Type: application/x-www-form-urlencoded", basicAuth),
	})
	if err != nil {
		return "", err
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
		Error      string `json:"error"`
	}
	_ = json.Unmarshal(rep.body, &pushed)
	if rep.status != http.StatusCreated || pushed.RequestURI == "" {
		return "", fmt.Errorf("push: %d %s", rep.status, pushed.Error)
	}
	return pushed.RequestURI, nil
}

func pushOp(path string) op {
	return func(_ context.Context, s system, w *wire, seq int64) error {
		_, err := push(s, w, path, "s"+strconv.FormatInt(seq, 10))
		return err
	}
}

// flowOp pushes, sends the authorization request by reference, follows the
// redirects that stay on the system, and checks that the client receives a
// JARM response JWT (and no bare code).
func flowOp(pushPath, authPath string) op {
	return func(_ context.Context, s system, w *wire, seq int64) error {
		uri, err := push(s, w, pushPath, "s"+strconv.FormatInt(seq, 10))
		if err != nil {
			return err
		}
		target := authPath + "?" + url.Values{"client_id": {clientID}, "request_uri": {uri}}.Encode()
		for range 5 {
			rep, err := w.do(request{method: "GET", target: target, header: s.header()})
			if err != nil {
				return err
			}
			if rep.status < 300 || rep.status > 399 || rep.location == "" {
				return fmt.Errorf("authorize: %d without a redirect%s", rep.status, errorCode(rep.body))
			}
			loc := rep.location
			if strings.HasPrefix(loc, s.base+"/") {
				loc = strings.TrimPrefix(loc, s.base)
			}
			if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
				target = loc
				continue
			}
			u, err := url.Parse(loc)
			if err != nil {
				return errors.New("authorize: the redirect is not a URL")
			}
			q := u.Query()
			if !strings.HasPrefix(loc, redirectURI+"?") || q.Has("code") || strings.Count(q.Get("response"), ".") != 2 {
				return errors.New("authorize: the redirect carries no JARM response")
			}
			return nil
		}
		return errors.New("authorize: too many redirects")
	}
}

func passOp(_ context.Context, s system, w *wire, _ int64) error {
	rep, err := w.do(request{method: "GET", target: "/hello", header: s.header()})
	if err != nil {
		return err
	}
	if rep.status != http.StatusOK || string(rep.body) != "hello" {
		return fmt.Errorf("pass-through: %d", rep.status)
	}
	return nil
}

// result is one measured run.
type result struct {
	elapsed   time.Duration
	latencies []time.Duration // of the operations that succeeded
	failed    int
	kinds     map[string]int
	maxRSSKiB int
	cpu       time.Duration // CPU time of the system's processes during the run (0: not measured)
	// driverCPU is the driver's own CPU time during the run: the load, and
	// for the gateway and the bare proxy the stand-in upstream too.
	driverCPU time.Duration
}

// driverPerOp is the driver's CPU time per successful operation of r.
func (r result) driverPerOp() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return (r.driverCPU / time.Duration(len(r.latencies))).Round(time.Microsecond)
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.elapsed.Seconds()
}

func (r result) pct(p float64) time.Duration { return percentile(r.latencies, p) }

// percentile returns the p-th percentile (nearest rank) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[max(0, min(len(ds)-1, i))].Round(10 * time.Microsecond)
}

// measure runs o on conns connections for d and collects the result; with
// s.rss set it samples the RSS every 250 ms.
func measure(ctx context.Context, s system, o op, conns int, d time.Duration) result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seq atomic.Int64
	var mu sync.Mutex
	res := result{kinds: map[string]int{}}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if s.rss != nil {
		wg.Go(func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if kib, err := s.rss(); err == nil {
						mu.Lock()
						res.maxRSSKiB = max(res.maxRSSKiB, kib)
						mu.Unlock()
					}
				}
			}
		})
	}
	cpu0, self0 := cpuOf(s.pids), cpuOf([]int{os.Getpid()})
	start := time.Now()
	end := start.Add(d)
	var workers sync.WaitGroup
	for range conns {
		workers.Go(func() {
			var local []time.Duration
			fails := map[string]int{}
			w, err := newWire(s.base)
			if err != nil {
				mu.Lock()
				res.kinds[err.Error()]++
				res.failed++
				mu.Unlock()
				return
			}
			defer w.Close()
			for time.Now().Before(end) {
				t0 := time.Now()
				err := o(ctx, s, w, seq.Add(1))
				if err != nil {
					fails[kindOf(err)]++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, local...)
			for k, n := range fails {
				res.kinds[k] += n
				res.failed += n
			}
			mu.Unlock()
		})
	}
	workers.Wait()
	res.elapsed = time.Since(start)
	res.driverCPU = cpuOf([]int{os.Getpid()}) - self0
	if len(s.pids) > 0 {
		res.cpu = cpuOf(s.pids) - cpu0
	}
	close(stop)
	wg.Wait()
	return res
}

// kindOf names an error without its details (URLs hold request_uris).
func kindOf(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + fmt.Sprintf("%T", ue.Err)
	}
	return err.Error()
}

// row is one scenario: the runs of both systems.
type row struct {
	title  string
	a, b   string
	ra, rb []result
}

// merged sums the runs of one system: total successes over total time, the
// percentiles of all latencies together, the largest RSS, and the CPU time
// per successful operation (0 if not measured).
func merged(rs []result) (rate float64, p50, p99 time.Duration, rss int, cpuPerOp time.Duration) {
	var n int
	var t, cpu time.Duration
	var all []time.Duration
	for _, r := range rs {
		n += len(r.latencies)
		t += r.elapsed
		cpu += r.cpu
		all = append(all, r.latencies...)
		rss = max(rss, r.maxRSSKiB)
	}
	if n > 0 {
		cpuPerOp = (cpu / time.Duration(n)).Round(time.Microsecond)
	}
	return float64(n) / t.Seconds(), percentile(all, 50), percentile(all, 99), rss, cpuPerOp
}

// cpuOf sums the user and system CPU time of the processes (fields 14 and
// 15 of /proc/<pid>/stat, in clock ticks of 1/100 s, USER_HZ on Linux).
func cpuOf(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces: count after its ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func cpuCell(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}

func printTable(rows []row) {
	fmt.Println()
	fmt.Printf("%-18s %-8s %7s %8s %8s %8s   %-13s %7s %8s %8s %8s   %6s %13s %9s %11s\n",
		"scenario", "system", "req/s", "p50", "p99", "CPU/op", "peer", "req/s", "p50", "p99", "CPU/op", "ratio", "ratio per rep", "CPU ratio", "gateway RSS")
	for _, r := range rows {
		ra, a50, a99, rss, acpu := merged(r.ra)
		rb, b50, b99, _, bcpu := merged(r.rb)
		cpuRatio := "-"
		if acpu > 0 && bcpu > 0 {
			cpuRatio = fmt.Sprintf("%.2f×", float64(bcpu)/float64(acpu))
		}
		var per []string
		for i := range r.ra {
			if x := r.rb[i].rate(); x > 0 {
				per = append(per, fmt.Sprintf("%.2f", r.ra[i].rate()/x))
			}
		}
		ratio := 0.0
		if rb > 0 {
			ratio = ra / rb
		}
		fmt.Printf("%-18s %-8s %7.0f %8v %8v %8s   %-13s %7.0f %8v %8v %8s   %5.2f× %13s %9s %7.1f MiB\n",
			r.title, r.a, ra, a50, a99, cpuCell(acpu), r.b, rb, b50, b99, cpuCell(bcpu), ratio, strings.Join(per, " "), cpuRatio, float64(rss)/1024)
	}
}

// bareProxy is the pass-through baseline: httputil.ReverseProxy with a
// transport that keeps as many idle connections as the load uses, and
// nothing else.
func bareProxy(upstream *url.URL) http.Handler {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(upstream) }, Transport: t}
}

// serveBare runs the bare proxy in this process (the driver re-executed
// with -serve-bare) on a free port, prints its URL and serves until killed.
func serveBare(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	srv := &http.Server{Handler: bareProxy(u), ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}

// bareProcess is the bare proxy in a process of its own, as the gateway
// is, so that neither shares the driver's Go runtime.
type bareProcess struct {
	url  string
	cmd  *exec.Cmd
	exit chan struct{}
}

func startBareProxy(upstream string) (*bareProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-bare", upstream)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &bareProcess{cmd: cmd, exit: make(chan struct{})}
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { _ = cmd.Wait(); close(b.exit) }()
	if err != nil || !strings.HasPrefix(line, "http://") {
		b.Close()
		return nil, fmt.Errorf("the bare proxy did not start: %q %v", line, err)
	}
	b.url = strings.TrimSpace(line)
	return b, nil
}

func (b *bareProcess) Close() {
	_ = b.cmd.Process.Kill()
	<-b.exit
}

// peer is the node oidc-provider process.
type peer struct {
	url  string
	cmd  *exec.Cmd
	exit chan struct{}
}

func startPeer(ctx context.Context, node, script, dir string) (*peer, error) {
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	logPath := filepath.Join(dir, "peer.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, script, "--port", port, "--client-id", clientID, "--client-secret", clientSecret, "--redirect-uri", redirectURI)
	cmd.Env = append(os.Environ(), "NODE_ENV=production")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s %s: %w", node, script, err)
	}
	p := &peer{url: "http://" + addr, cmd: cmd, exit: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exit) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exit:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("the peer exited during start-up:\n%s", b)
		default:
		}
		if status, _, err := procs.Get(ctx, p.url+"/.well-known/openid-configuration"); err == nil && status == http.StatusOK {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("the peer was not ready within 30s:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *peer) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exit
	}
}

// signIn runs one authorization request through the login form and returns
// the session cookies as a Cookie header: the user is then signed in, and
// has consented (the peer's loadExistingGrant), so every later
// authorization request of the run redirects straight back.
func (p *peer) signIn(ctx context.Context) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), p.url+"/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	q := authForm("login")
	q.Del("response_mode")
	resp, err := c.Get(p.url + "/auth?" + q.Encode())
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if !strings.Contains(resp.Request.URL.Path, "/interaction/") {
		return "", fmt.Errorf("peer sign-in: expected the interaction page, got %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	resp, err = c.PostForm(resp.Request.URL.String()+"/login", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	if resp.StatusCode/100 != 3 || loc == nil || !strings.HasPrefix(loc.String(), redirectURI+"?") || !loc.Query().Has("code") {
		return "", fmt.Errorf("peer sign-in: did not end in a redirect with a code (status %d)", resp.StatusCode)
	}
	u, _ := url.Parse(p.url)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; "), nil
}

// errorCode returns ": <code>" for an error page of the gateway (its
// <dd id="error">) or of the peer (its <p id="error-code">), or "".
func errorCode(body []byte) string {
	for _, marker := range []string{`<dd id="error">`, `<p id="error-code">`} {
		if _, rest, ok := strings.Cut(string(body), marker); ok {
			if code, _, ok := strings.Cut(rest, "<"); ok && len(code) <= 40 {
				return ": " + code
			}
		}
	}
	return ""
}

// loadavg is the 1-minute load average, for the record.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
