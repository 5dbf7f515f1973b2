package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios, and the share of the ticks each gets (out of 10).
const (
	scenarioPAR  = "par flow"
	scenarioJARM = "jarm flow"
	scenarioPass = "pass-through"
)

// scenarioFor spreads the ticks 4:2:4 over PAR flows, JARM flows and
// pass-through requests, interleaved.
func scenarioFor(tick int) string {
	switch tick % 10 {
	case 0, 3, 5, 8:
		return scenarioPAR
	case 1, 6:
		return scenarioJARM
	default:
		return scenarioPass
	}
}

// driver starts scenarios against the gateway at a fixed rate.
type driver struct {
	gw   string
	http *http.Client
	hang time.Duration
	rep  *report
	seq  atomic.Int64
}

// run starts rate scenarios a second for d, at most concurrency at a time,
// and waits for the last to finish. The i-th starts at i/rate: a driver
// that falls behind (a busy machine) catches up, so the run holds its rate
// on average. A start that finds every slot busy is skipped and counted:
// the rate is a schedule, not a queue.
func (d *driver) run(ctx context.Context, dur time.Duration, rate float64, concurrency int) {
	interval := time.Duration(float64(time.Second) / rate)
	began := time.Now()
	end := began.Add(dur)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := began.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			d.rep.skip()
			continue
		}
		name := scenarioFor(i)
		wg.Go(func() {
			defer func() { <-slots }()
			d.scenario(ctx, name)
		})
	}
}

// scenario runs one scenario and records it.
func (d *driver) scenario(ctx context.Context, name string) {
	n := d.seq.Add(1)
	state := "soak-" + strconv.FormatInt(n, 10)
	start := time.Now()
	var err error
	switch name {
	case scenarioPAR:
		err = d.parFlow(ctx, state)
	case scenarioJARM:
		err = d.jarmFlow(ctx, state)
	default:
		err = d.passThrough(ctx)
	}
	d.rep.scenario(name, start, time.Now(), err)
}

// failure is a scenario's error, by kind: what the report groups on. It
// never holds a code, request_uri or token.
type failure struct {
	kind   string
	status int
	hung   bool
}

func (f *failure) Error() string { return f.kind }

// parFlow pushes, then runs the authorization request by reference and
// checks that the upstream's code comes back with the client's state.
func (d *driver) parFlow(ctx context.Context, state string) error {
	form := url.Values{
		"response_type": {"code"}, "client_id": {parClient}, "redirect_uri": {redirectURI},
		"scope": {"openid"}, "state": {state},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.gw+"/par", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(parClient, clientSecret)
	resp, body, err := d.do(req, "par push")
	if err != nil {
		return err
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
		Error      string `json:"error"`
	}
	_ = json.Unmarshal(body, &pushed)
	if resp.StatusCode != http.StatusCreated || pushed.RequestURI == "" {
		return errorOf("push", resp.StatusCode, body)
	}
	q := url.Values{"client_id": {parClient}, "request_uri": {pushed.RequestURI}}
	loc, err := d.authorize(ctx, q, "par authorize")
	if err != nil {
		return err
	}
	got := loc.Query()
	if e := got.Get("error"); e != "" {
		return &failure{kind: "authorize: redirect error=" + e}
	}
	if got.Get("code") == "" || got.Get("state") != state {
		return &failure{kind: "authorize: response lacks the code or the client's state"}
	}
	return nil
}

// jarmFlow sends a plain authorization request with response_mode=query.jwt
// and checks that a JWT response comes back instead of the code.
func (d *driver) jarmFlow(ctx context.Context, state string) error {
	q := url.Values{
		"response_type": {"code"}, "client_id": {jarmClient}, "redirect_uri": {redirectURI},
		"scope": {"openid"}, "state": {state}, "response_mode": {"query.jwt"},
	}
	loc, err := d.authorize(ctx, q, "jarm authorize")
	if err != nil {
		return err
	}
	got := loc.Query()
	if e := got.Get("error"); e != "" {
		return &failure{kind: "authorize: redirect error=" + e}
	}
	if got.Has("code") || strings.Count(got.Get("response"), ".") != 2 {
		return &failure{kind: "authorize: no JARM response JWT in the redirect"}
	}
	return nil
}

// passThrough fetches a page the gateway only proxies.
func (d *driver) passThrough(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.gw+"/hello", nil)
	if err != nil {
		return err
	}
	resp, body, err := d.do(req, "pass-through")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		return errorOf("pass-through", resp.StatusCode, body)
	}
	return nil
}

// authorize runs an authorization request, following redirects while they
// stay on the gateway, and returns the redirect to the client.
func (d *driver) authorize(ctx context.Context, q url.Values, step string) (*url.URL, error) {
	target := d.gw + "/authorize?" + q.Encode()
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		resp, body, err := d.do(req, step)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return nil, errorOf("authorize", resp.StatusCode, body)
		}
		loc, err := resp.Location()
		if err != nil {
			return nil, &failure{kind: "authorize: redirect without a Location", status: resp.StatusCode}
		}
		if !strings.HasPrefix(loc.String(), d.gw+"/") {
			if !strings.HasPrefix(loc.String(), redirectURI+"?") {
				return nil, &failure{kind: "authorize: redirect to an unexpected place", status: resp.StatusCode}
			}
			return loc, nil
		}
		target = loc.String()
	}
	return nil, &failure{kind: "authorize: too many redirects"}
}

// do sends req, reads the body and records the round trip's latency under
// step. A transport error becomes a failure of its kind.
func (d *driver) do(req *http.Request, step string) (*http.Response, []byte, error) {
	start := time.Now()
	resp, err := d.http.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	took := time.Since(start)
	d.rep.latency(step, took)
	if err != nil {
		return nil, nil, transportFailure(step, err, took >= d.hang)
	}
	if took >= d.hang {
		return nil, nil, &failure{kind: step + ": answered after the hang bound", status: resp.StatusCode, hung: true}
	}
	return resp, body, nil
}

// transportFailure names a transport error by kind, without its details
// (which hold URLs with request_uris).
func transportFailure(step string, err error, late bool) *failure {
	var ne net.Error
	switch {
	case late || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &failure{kind: step + ": hung (timeout)", hung: true}
	case errors.Is(err, context.Canceled):
		return &failure{kind: step + ": cancelled"}
	case strings.Contains(err.Error(), "connection refused"):
		return &failure{kind: step + ": connection refused"}
	case strings.Contains(err.Error(), "connection reset"):
		return &failure{kind: step + ": connection reset"}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &failure{kind: step + ": connection closed (EOF)"}
	default:
		return &failure{kind: step + ": transport error"}
	}
}

// errorOf names an error answer by status and OAuth error code: the JSON
// error of the PAR endpoint, or the error page's code.
func errorOf(step string, status int, body []byte) *failure {
	code := oauthCode(body)
	kind := fmt.Sprintf("%s: %d", step, status)
	if code != "" {
		kind += " " + code
	}
	return &failure{kind: kind, status: status}
}

// oauthCode returns the OAuth error code of a JSON error response or of the
// gateway's error page, or "".
func oauthCode(body []byte) string {
	var j struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &j) == nil && j.Error != "" {
		return sanitize(j.Error)
	}
	const marker = `<dd id="error">`
	s := string(body)
	if i := strings.Index(s, marker); i >= 0 {
		s = s[i+len(marker):]
		if j := strings.IndexByte(s, '<'); j >= 0 {
			return sanitize(s[:j])
		}
	}
	return ""
}

// sanitize keeps an error code printable and short: it comes from the
// network.
func sanitize(code string) string {
	if len(code) > 40 {
		code = code[:40]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '?'
	}, code)
}
