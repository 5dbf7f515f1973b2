// Package record is the compact binary encoding of the values the gateway
// stores per flow (pushed requests, transactions, code records). Only the
// gateway writes and reads them, sealed (store.Seal), so the encoding needs
// no field names and no schema: each value is a format byte of its own type
// followed by its fields in a fixed order. Encoding appends to a []byte
// without reflection; decoding checks every length against the bytes left
// and never panics, whatever it is given.
//
// The pieces are: a string is its length (uvarint) and its bytes; a bool
// one byte, 0 or 1; an int64 a zig-zag varint; a time its Unix nanoseconds
// as an int64, 0 for the zero time; a string list its count (uvarint) and
// its strings; url.Values the count of names, then each name with its
// values as a string list, names in sorted order.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// ErrMalformed is the error of a value that is not a well-formed record of
// the format the caller expects: truncated, with a length beyond its end,
// a bool other than 0 or 1, a repeated name, trailing bytes, or another
// format byte.
var ErrMalformed = errors.New("record: malformed value")

// IsJSON reports whether b is the JSON form the version before this
// encoding stored: a JSON object, whose first byte, '{', no format byte is.
func IsJSON(b []byte) bool { return len(b) > 0 && b[0] == '{' }

// AppendString appends s: its length and its bytes.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBool appends v as one byte, 1 for true.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendInt64 appends v as a zig-zag varint.
func AppendInt64(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendTime appends t as its Unix nanoseconds, the zero time as 0 (its
// Unix nanoseconds are out of range). A time outside the years 1678 to
// 2262 has no Unix nanoseconds; the gateway stores expiries minutes ahead.
// The Unix epoch itself, 0 as well, decodes as the zero time.
func AppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return AppendInt64(b, 0)
	}
	return AppendInt64(b, t.UnixNano())
}

// AppendStrings appends ss: its count and its strings, in order.
func AppendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = AppendString(b, s)
	}
	return b
}

// AppendValues appends v: the count of its names, then each name, in
// sorted order so that one v always encodes alike, with its values in
// their order.
func AppendValues(b []byte, v url.Values) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	// Sixteen names cover a typical authorization request without a heap
	// allocation for the sort.
	names := make([]string, 0, 16)
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b = AppendString(b, name)
		b = AppendStrings(b, v[name])
	}
	return b
}

// ValuesLen is how many bytes AppendValues appends for v, so that a caller
// can allocate once.
func ValuesLen(v url.Values) int {
	n := uvarintLen(len(v))
	for name, vs := range v {
		n += stringLen(name) + uvarintLen(len(vs))
		for _, s := range vs {
			n += stringLen(s)
		}
	}
	return n
}

// StringsLen is how many bytes AppendString appends for each of ss,
// together: the strings of a fixed record, for its allocation.
func StringsLen(ss ...string) int {
	n := 0
	for _, s := range ss {
		n += stringLen(s)
	}
	return n
}

func stringLen(s string) int { return uvarintLen(len(s)) + len(s) }

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// A Decoder reads the fields of one record in the order they were
// appended. Its first error sticks: later reads return zero values, and
// Finish returns the error. The decoded strings share one copy of the
// record, so decoding allocates once for all of them.
type Decoder struct {
	s   string
	err error
}

// NewDecoder returns a Decoder of b, which must start with format.
func NewDecoder(b []byte, format byte) Decoder {
	switch {
	case len(b) == 0:
		return Decoder{err: fmt.Errorf("%w: empty", ErrMalformed)}
	case b[0] != format:
		return Decoder{err: fmt.Errorf("%w: format %#x, want %#x", ErrMalformed, b[0], format)}
	}
	return Decoder{s: string(b[1:])}
}

// Finish returns the first error of the reads, or an error if bytes are
// left after the last field.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.s) > 0 {
		d.fail("%d trailing bytes", len(d.s))
	}
	return d.err
}

// fail records the first error and drops the bytes left, so that every
// later read fails at once.
func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	d.s = ""
}

// uvarint reads an unsigned varint, as binary.Uvarint does from a []byte:
// at most ten bytes, whose value fits in 64 bits.
func (d *Decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < len(d.s); i++ {
		c := d.s[i]
		if i == binary.MaxVarintLen64 || i == binary.MaxVarintLen64-1 && c > 1 {
			d.fail("varint overflows 64 bits")
			return 0
		}
		if c < 0x80 {
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail("truncated varint")
	return 0
}

// count reads a count of items that each take at least minSize bytes: it
// cannot be more than the bytes left allow.
func (d *Decoder) count(minSize int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)/minSize) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.s))
		return 0
	}
	return int(n)
}

// ReadString reads a string.
func (d *Decoder) ReadString() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.s))
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

// ReadBool reads a bool.
func (d *Decoder) ReadBool() bool {
	if len(d.s) == 0 {
		d.fail("truncated bool")
		return false
	}
	c := d.s[0]
	if c > 1 {
		d.fail("bool byte %#x", c)
		return false
	}
	d.s = d.s[1:]
	return c == 1
}

// ReadInt64 reads an int64.
func (d *Decoder) ReadInt64() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// ReadTime reads a time, 0 as the zero time.
func (d *Decoder) ReadTime() time.Time {
	n := d.ReadInt64()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// ReadStrings reads a string list; an empty one is nil.
func (d *Decoder) ReadStrings() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.ReadString()
	}
	if d.err != nil {
		return nil
	}
	return ss
}

// ReadValues reads url.Values, each name's values in their order; an
// empty set is nil. A name that comes twice is an error.
func (d *Decoder) ReadValues() url.Values {
	// Each name takes at least its length and its count of values.
	n := d.count(2)
	if n == 0 {
		return nil
	}
	v := make(url.Values, n)
	// One array holds the values of the names as long as they have one each
	// on average, as authorization parameters do. Each name's slice is
	// capped at its own values, so that appending to one copies it.
	shared := make([]string, 0, n)
	for range n {
		name := d.ReadString()
		var vs []string
		if k := d.count(1); k > 0 && k <= cap(shared)-len(shared) {
			l := len(shared)
			shared = shared[:l+k]
			vs = shared[l : l+k : l+k]
		} else if k > 0 {
			vs = make([]string, k)
		}
		for i := range vs {
			vs[i] = d.ReadString()
		}
		if d.err != nil {
			return nil
		}
		if _, dup := v[name]; dup {
			d.fail("name %q comes twice", name)
			return nil
		}
		v[name] = vs
	}
	return v
}
