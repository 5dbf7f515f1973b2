package record

import (
	"bytes"
	"errors"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/record/recordtest"
)

// fields is one value of every kind, appended and decoded in this order.
type fields struct {
	S  string
	B  bool
	I  int64
	T  time.Time
	SS []string
	V  url.Values
}

const testFormat = 0x02

func (f *fields) append(b []byte) []byte {
	b = append(b, testFormat)
	b = AppendString(b, f.S)
	b = AppendBool(b, f.B)
	b = AppendInt64(b, f.I)
	b = AppendTime(b, f.T)
	b = AppendStrings(b, f.SS)
	return AppendValues(b, f.V)
}

func decodeFields(b []byte) (fields, error) {
	d := NewDecoder(b, testFormat)
	f := fields{S: d.ReadString(), B: d.ReadBool(), I: d.ReadInt64(), T: d.ReadTime(), SS: d.ReadStrings(), V: d.ReadValues()}
	return f, d.Finish()
}

// equal compares decoded fields: times by instant, and an empty list or
// set of values as nil, which is how they decode.
func (f fields) equal(g fields) bool {
	return f.S == g.S && f.B == g.B && f.I == g.I && f.T.Equal(g.T) && f.T.IsZero() == g.T.IsZero() &&
		equalStrings(f.SS, g.SS) && recordtest.EqualValues(f.V, g.V)
}

func equalStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 70_000) // a three-byte length
	for _, f := range []fields{
		{},
		{S: "client", B: true, I: 1, T: time.Unix(1_700_000_000, 123), SS: []string{"a"}, V: url.Values{"a": {"1"}}},
		{S: long, I: -1, T: time.Unix(0, 1), SS: []string{"", long, "é\x00"}, V: url.Values{"": {""}, long: {long}}},
		{I: math.MaxInt64, T: time.Unix(0, math.MaxInt64), SS: []string{}, V: url.Values{}},
		{I: math.MinInt64, T: time.Unix(0, math.MinInt64+1), V: url.Values{"scope": {"openid", "email", "openid"}, "empty": nil, "z": {}}},
		{V: url.Values{"a": {"1", "2", "3"}, "b": {"4"}}}, // more values than names
	} {
		b := f.append(nil)
		got, err := decodeFields(b)
		if err != nil {
			t.Fatalf("decode(%q): %v", b, err)
		}
		if !f.equal(got) {
			t.Errorf("decode(encode(%+v)) = %+v", f, got)
		}
		if got.V != nil && !got.V.Has("empty") && f.V.Has("empty") {
			t.Errorf("a name without values was lost")
		}
		if again := got.append(nil); !bytes.Equal(again, b) {
			t.Errorf("re-encoded %q, first %q", again, b)
		}
	}
}

func TestValuesEncodeInSortedOrderWithValuesInOrder(t *testing.T) {
	v := url.Values{"b": {"2", "1"}, "a": {"x"}, "c": {}}
	want := []byte{3, 1, 'a', 1, 1, 'x', 1, 'b', 2, 1, '2', 1, '1', 1, 'c', 0}
	for range 10 { // map order changes between iterations
		if got := AppendValues(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("AppendValues = %v, want %v", got, want)
		}
	}
	if n := ValuesLen(v); n != len(want) {
		t.Errorf("ValuesLen = %d, want %d", n, len(want))
	}
	// The decoder does not need sorted names.
	d := NewDecoder([]byte{testFormat, 2, 1, 'b', 1, 1, '2', 1, 'a', 0}, testFormat)
	got := d.ReadValues()
	if err := d.Finish(); err != nil || !recordtest.EqualValues(got, url.Values{"b": {"2"}, "a": nil}) {
		t.Errorf("Values = %v, %v", got, err)
	}
}

// The values of several names share one array: appending to one name's
// values leaves the next name's alone.
func TestDecodedValuesAreIndependent(t *testing.T) {
	d := NewDecoder(AppendValues([]byte{testFormat}, url.Values{"a": {"1"}, "b": {"2"}}), testFormat)
	v := d.ReadValues()
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	v.Add("a", "x")
	v["a"][0] = "y"
	if !recordtest.EqualValues(v, url.Values{"a": {"y", "x"}, "b": {"2"}}) {
		t.Errorf("values = %v", v)
	}
}

func TestLen(t *testing.T) {
	long := strings.Repeat("y", 200)
	v := url.Values{long: {long, ""}, "a": nil}
	if got, want := ValuesLen(v), len(AppendValues(nil, v)); got != want {
		t.Errorf("ValuesLen = %d, want %d", got, want)
	}
	if got, want := StringsLen("", long, "ab"), len(AppendString(AppendString(AppendString(nil, ""), long), "ab")); got != want {
		t.Errorf("StringsLen = %d, want %d", got, want)
	}
}

func TestTimeZeroAndNanoseconds(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want []byte
	}{
		{time.Time{}, []byte{0}},
		{time.Unix(0, 1), []byte{2}},
		{time.Unix(0, -1), []byte{1}},
	} {
		if got := AppendTime(nil, tt.t); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendTime(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
	d := NewDecoder([]byte{testFormat, 0}, testFormat)
	if got := d.ReadTime(); !got.IsZero() || d.Finish() != nil {
		t.Errorf("Time of 0 = %v, %v; want the zero time", got, d.Finish())
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		read func(*Decoder)
		want string
	}{
		{"an empty value", nil, func(d *Decoder) { d.ReadString() }, "empty"},
		{"another format byte", []byte{0x03, 0}, func(d *Decoder) { d.ReadString() }, "format 0x3, want 0x2"},
		{"JSON", []byte(`{"a":1}`), func(d *Decoder) { d.ReadString() }, "format 0x7b, want 0x2"},
		{"a missing field", []byte{testFormat}, func(d *Decoder) { d.ReadString() }, "truncated varint"},
		{"a cut varint", []byte{testFormat, 0x80}, func(d *Decoder) { d.ReadInt64() }, "truncated varint"},
		{"an eleven-byte varint", append([]byte{testFormat}, bytes.Repeat([]byte{0xff}, 11)...), func(d *Decoder) { d.ReadInt64() }, "varint overflows 64 bits"},
		{"a varint over 64 bits", append(append([]byte{testFormat}, bytes.Repeat([]byte{0xff}, 9)...), 2), func(d *Decoder) { d.ReadInt64() }, "varint overflows 64 bits"},
		{"a string longer than the value", []byte{testFormat, 3, 'a', 'b'}, func(d *Decoder) { d.ReadString() }, "length 3 exceeds the 2 bytes left"},
		{"a huge string length", append([]byte{testFormat}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), func(d *Decoder) { d.ReadString() }, "length 18446744073709551615 exceeds the 0 bytes left"},
		{"a list longer than the value", []byte{testFormat, 2, 0}, func(d *Decoder) { d.ReadStrings() }, "count 2 exceeds the 1 bytes left"},
		{"a cut list", []byte{testFormat, 2, 0, 1}, func(d *Decoder) { d.ReadStrings() }, "length 1 exceeds the 0 bytes left"},
		{"more names than the value holds", []byte{testFormat, 2, 0, 0}, func(d *Decoder) { d.ReadValues() }, "count 2 exceeds the 2 bytes left"},
		{"a name without its values", []byte{testFormat, 1, 1, 'a'}, func(d *Decoder) { d.ReadValues() }, "truncated varint"},
		{"a name that comes twice", []byte{testFormat, 2, 1, 'a', 0, 1, 'a', 0}, func(d *Decoder) { d.ReadValues() }, `name "a" comes twice`},
		{"a bool byte over 1", []byte{testFormat, 2}, func(d *Decoder) { d.ReadBool() }, "bool byte 0x2"},
		{"a missing bool", []byte{testFormat}, func(d *Decoder) { d.ReadBool() }, "truncated bool"},
		{"trailing bytes", []byte{testFormat, 0, 9, 9}, func(d *Decoder) { d.ReadString() }, "2 trailing bytes"},
		{"the first of two errors", []byte{testFormat, 5}, func(d *Decoder) { d.ReadString(); d.ReadBool() }, "length 5 exceeds the 0 bytes left"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.b, testFormat)
			tt.read(&d)
			err := d.Finish()
			if !errors.Is(err, ErrMalformed) || err.Error() != "record: malformed value: "+tt.want {
				t.Fatalf("Finish() = %v, want ErrMalformed: %s", err, tt.want)
			}
			// After an error every read is a zero value.
			if d.ReadString() != "" || d.ReadBool() || d.ReadInt64() != 0 || !d.ReadTime().IsZero() || d.ReadStrings() != nil || d.ReadValues() != nil {
				t.Error("a read after the error returned a value")
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	for b, want := range map[string]bool{`{"a":1}`: true, "{": true, "": false, "\x02{": false, " {": false, "[]": false} {
		if IsJSON([]byte(b)) != want {
			t.Errorf("IsJSON(%q) = %v, want %v", b, !want, want)
		}
	}
}

// FuzzDecoder: decoding any bytes never panics, and a value that decodes
// encodes to bytes that decode to it again.
func FuzzDecoder(f *testing.F) {
	f.Add((&fields{S: "s", B: true, I: -7, T: time.Unix(5, 6), SS: []string{"a", ""}, V: url.Values{"x": {"1", "2"}}}).append(nil))
	f.Add((&fields{}).append(nil))
	f.Add([]byte{testFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte(`{"s":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeFields(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		again, err := decodeFields(got.append(nil))
		if err != nil || !got.equal(again) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", got, again, err)
		}
	})
}

// FuzzRoundTrip: what the fuzzer builds decodes to itself.
func FuzzRoundTrip(f *testing.F) {
	f.Add("client", true, int64(1_700_000_000_000_000_000), "a\x00b", "scope=openid&scope=email&state=")
	f.Add("", false, int64(0), "", "")
	f.Fuzz(func(t *testing.T, s string, b bool, n int64, list, query string) {
		in := fields{S: s, B: b, I: n, T: time.Unix(0, n), SS: strings.Split(list, "\x00"), V: recordtest.Values(query)}
		if n == 0 {
			in.T = time.Time{}
		}
		got, err := decodeFields(in.append(nil))
		if err != nil || !in.equal(got) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", in, got, err)
		}
	})
}
