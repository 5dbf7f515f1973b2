package par

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/record"
	"github.com/parjarm/parjarm/internal/record/recordtest"
)

// equalPushedRequest compares decoded pushed requests: times by instant,
// values as the decoder returns them.
func equalPushedRequest(a, b *PushedRequest) bool {
	return a.ClientID == b.ClientID && recordtest.EqualValues(a.Params, b.Params) && a.Signed == b.Signed &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.ExpiresAt.IsZero() == b.ExpiresAt.IsZero()
}

func TestPushedRequestRoundTrip(t *testing.T) {
	for _, in := range []PushedRequest{
		{},
		{ClientID: "conf", Params: url.Values{"scope": {"openid", "email"}, "state": {""}, "claims": {`{"id_token":{}}`}}, Signed: true, ExpiresAt: time.Unix(1_700_000_060, 5)},
		{ClientID: "é\x00", Params: url.Values{"": nil}, ExpiresAt: time.Unix(0, math.MaxInt64)},
	} {
		b := in.marshal()
		if b[0] != pushedRequestFormat {
			t.Fatalf("format byte %#x", b[0])
		}
		var got PushedRequest
		if err := got.unmarshal(b); err != nil {
			t.Fatalf("unmarshal(%q): %v", b, err)
		}
		if !equalPushedRequest(&in, &got) {
			t.Errorf("unmarshal(marshal(%+v)) = %+v", in, got)
		}
	}
}

// A pushed request that the version before stored as JSON decodes, and
// what does not decode leaves the request as it was.
func TestPushedRequestUnmarshal(t *testing.T) {
	old, err := json.Marshal(PushedRequest{ClientID: "conf", Params: url.Values{"a": {"1", "2"}}, Signed: true, ExpiresAt: time.Unix(1_700_000_060, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var got PushedRequest
	if err := got.unmarshal(old); err != nil {
		t.Fatal(err)
	}
	if want := (PushedRequest{ClientID: "conf", Params: url.Values{"a": {"1", "2"}}, Signed: true, ExpiresAt: time.Unix(1_700_000_060, 0)}); !equalPushedRequest(&got, &want) {
		t.Errorf("unmarshal(JSON) = %+v", got)
	}
	cut := PushedRequest{ClientID: "before"}
	if err := cut.unmarshal([]byte(`{"client_id":"x","params":`)); err == nil || err.Error() != "unexpected end of JSON input" || cut.ClientID != "before" {
		t.Errorf("unmarshal of cut JSON = %v, request %+v; want the JSON error and the request as it was", err, cut)
	}
	valid := (&PushedRequest{ClientID: "conf"}).marshal()
	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"an unknown format byte", append([]byte{0x03}, valid[1:]...), "record: malformed value: format 0x3, want 0x2"},
		{"a truncated value", valid[:len(valid)-1], "record: malformed value: truncated varint"},
		{"trailing bytes", append(valid, 0), "record: malformed value: 1 trailing bytes"},
		{"an empty value", nil, "record: malformed value: empty"},
	} {
		got := PushedRequest{ClientID: "before"}
		err := got.unmarshal(tt.b)
		if !errors.Is(err, record.ErrMalformed) || err.Error() != tt.want {
			t.Errorf("%s: unmarshal = %v, want %s", tt.name, err, tt.want)
		}
		if got.ClientID != "before" {
			t.Errorf("%s: the request was changed to %+v", tt.name, got)
		}
	}
}

// FuzzPushedRequest: what the fuzzer builds decodes to itself, and
// decoding any bytes never panics; what decodes re-encodes to itself.
func FuzzPushedRequest(f *testing.F) {
	f.Add([]byte{}, "conf", "scope=openid&scope=email&state=", true, int64(1_700_000_060_000_000_000))
	f.Add((&PushedRequest{ClientID: "c", Params: url.Values{"a": {"1"}}}).marshal(), "", "", false, int64(0))
	f.Add([]byte(`{"client_id":"c","params":{"a":["1"]},"expires_at":"2023-11-14T22:14:20Z"}`), "c", "a=1", false, int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, clientID, query string, signed bool, nanos int64) {
		in := PushedRequest{ClientID: clientID, Params: recordtest.Values(query), Signed: signed}
		if nanos != 0 {
			in.ExpiresAt = time.Unix(0, nanos)
		}
		var got PushedRequest
		if err := got.unmarshal(in.marshal()); err != nil || !equalPushedRequest(&in, &got) {
			t.Fatalf("unmarshal(marshal(%+v)) = %+v, %v", in, got, err)
		}
		var dec PushedRequest
		err := dec.unmarshal(b)
		if err != nil && !record.IsJSON(b) && !errors.Is(err, record.ErrMalformed) {
			t.Fatalf("error %v is not record.ErrMalformed", err)
		}
		if err != nil || record.IsJSON(b) {
			// A JSON time may lie outside the years 1678 to 2262, which
			// have no Unix nanoseconds: JSON values are not re-encoded.
			return
		}
		var again PushedRequest
		if err := again.unmarshal(dec.marshal()); err != nil || !equalPushedRequest(&dec, &again) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", dec, again, err)
		}
	})
}

// BenchmarkPushedRequest compares a typical pushed request's binary form
// with the JSON the version before stored, encoded and decoded.
func BenchmarkPushedRequest(b *testing.B) {
	r := PushedRequest{ClientID: "conf", Params: parseAuthParams(b), ExpiresAt: time.Unix(1_700_000_060, 0)}
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got PushedRequest
			if err := got.unmarshal(r.marshal()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := json.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			var got PushedRequest
			if err := json.Unmarshal(v, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// parseAuthParams returns the parameters of a test push (authParams) with
// a nonce and a response_mode: nine.
func parseAuthParams(t testing.TB) url.Values {
	t.Helper()
	v, err := url.ParseQuery(form(authParams("conf", "nonce", "n-0S6_WzA2Mj", "response_mode", "query.jwt")...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every field of a PushedRequest survives its binary form: a field added
// to PushedRequest and not to marshal and unmarshal fails here.
func TestEveryPushedRequestFieldIsStored(t *testing.T) {
	var in PushedRequest
	recordtest.Fill(&in)
	var got PushedRequest
	if err := got.unmarshal(in.marshal()); err != nil {
		t.Fatal(err)
	}
	got.ExpiresAt = got.ExpiresAt.UTC()
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("unmarshal(marshal(%+v)) = %+v", in, got)
	}
}
