package par

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // url.Values.Encode() of the result; "" with code set means an error
		code string
	}{
		{name: "an empty body has no parameters", body: "", want: ""},
		{name: "plain pairs are decoded", body: "a=1&b=two+words&c=%C3%A9", want: "a=1&b=two+words&c=%C3%A9"},
		{name: "empty pairs between separators are skipped", body: "&a=1&&b=2&", want: "a=1&b=2"},
		{name: "a parameter without value is omitted", body: "a=&b=2&c", want: "b=2"},
		{name: "a name is decoded too", body: "client%5Fid=x", want: "client_id=x"},
		{name: "an '=' inside a value is kept", body: "a=b=c", want: "a=b%3Dc"},
		{name: "a repeated parameter is refused", body: "a=1&a=2", code: "invalid_request"},
		{name: "a repeated parameter is refused even when one is empty", body: "a=&a=2", code: "invalid_request"},
		{name: "a parameter repeated under another encoding is refused", body: "a_b=1&a%5Fb=2", code: "invalid_request"},
		{name: "a malformed escape in a value is refused", body: "a=%G1", code: "invalid_request"},
		{name: "a truncated escape is refused", body: "a=%4", code: "invalid_request"},
		{name: "a malformed escape in a name is refused", body: "%zz=1", code: "invalid_request"},
		{name: "a semicolon is refused", body: "a=1;b=2", code: "invalid_request"},
		{name: "a parameter without name is refused", body: "=1", code: "invalid_request"},
		{name: "a value that is not UTF-8 is refused", body: "a=%FF", code: "invalid_request"},
		{name: "a name that is not UTF-8 is refused", body: "%C3=1", code: "invalid_request"},
		{name: "four distinct parameters are one too many", body: "a=1&b=2&c=3&d=4", code: "invalid_request"},
		{name: "three distinct parameters are allowed", body: "a=1&b=2&c=3", want: "a=1&b=2&c=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseForm(tt.body, 3)
			if tt.code != "" {
				wantOAuthError(t, err, http.StatusBadRequest, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("parseForm: %v", err)
			}
			if got.Encode() != tt.want {
				t.Errorf("parseForm = %s, want %s", got.Encode(), tt.want)
			}
		})
	}
}

func TestParseFormDescriptionsNeverEchoValues(t *testing.T) {
	_, err := parseForm("client_secret=hunter2%zz", 10)
	if err == nil {
		t.Fatal("malformed body accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q echoes the value", err)
	}
}

func TestReadForm(t *testing.T) {
	tests := []struct {
		name   string
		body   io.Reader
		limit  int64
		status int
	}{
		{name: "a body at the limit is read", body: strings.NewReader("a=1234"), limit: 6, status: 0},
		{name: "a body over the limit is answered 413", body: strings.NewReader("a=12345"), limit: 6, status: http.StatusRequestEntityTooLarge},
		{name: "a body that cannot be read is answered 400", body: iotest.ErrReader(io.ErrUnexpectedEOF), limit: 6, status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readForm(http.MaxBytesReader(nil, io.NopCloser(tt.body), tt.limit), 10)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("readForm: %v", err)
				}
				return
			}
			wantOAuthError(t, err, tt.status, "invalid_request")
		})
	}
}

func TestCheckContentType(t *testing.T) {
	tests := []struct {
		header string
		ok     bool
	}{
		{"application/x-www-form-urlencoded", true},
		{"application/x-www-form-urlencoded; charset=UTF-8", true},
		{"Application/X-WWW-Form-Urlencoded", true},
		{"application/x-www-form-urlencoded;charset=ISO-8859-1", true},
		{"", false},
		{"application/json", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded; charset", false},
		{"application/x-www-form-urlencodedx", false},
	}
	for _, tt := range tests {
		err := checkContentType(tt.header)
		if tt.ok && err != nil {
			t.Errorf("checkContentType(%q) = %v, want nil", tt.header, err)
		}
		if !tt.ok {
			if err == nil {
				t.Errorf("checkContentType(%q) = nil, want invalid_request", tt.header)
				continue
			}
			wantOAuthError(t, err, http.StatusBadRequest, "invalid_request")
		}
	}
}
