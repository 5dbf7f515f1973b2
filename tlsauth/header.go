package tlsauth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Format is how a TLS terminator writes the client certificate into a
// request header.
type Format string

// Header formats.
const (
	// FormatRFC9440 is the Client-Cert header of RFC 9440, section 2.2: the
	// DER certificate as a Structured Field byte sequence (":base64:"). Its
	// chain, in the Client-Cert-Chain header (RFC 9440, section 2.3), is a
	// list of such byte sequences.
	FormatRFC9440 Format = "rfc9440"
	// FormatNginx is nginx's $ssl_client_escaped_cert: the PEM certificate,
	// URL-escaped.
	FormatNginx Format = "nginx"
	// FormatEnvoy is Envoy's X-Forwarded-Client-Cert: `,`-separated
	// elements of `;`-separated key=value pairs, the certificate in
	// Cert="<URL-escaped PEM>" and its chain in Chain="…".
	FormatEnvoy Format = "envoy"
)

// Formats lists the formats, for configuration messages.
var Formats = []Format{FormatRFC9440, FormatNginx, FormatEnvoy}

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool {
	for _, g := range Formats {
		if f == g {
			return true
		}
	}
	return false
}

// ChainHeaderRFC9440 is the RFC 9440 header that carries the chain next to
// Client-Cert (RFC 9440, section 2.3).
const ChainHeaderRFC9440 = "Client-Cert-Chain"

// maxChain bounds the certificates read from one header: a real chain has
// a handful.
const maxChain = 10

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed client certificate header")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse reads the client certificate chain (leaf first) from the value of
// a certificate header in format f. chainValue is the value of the RFC
// 9440 Client-Cert-Chain header, read with FormatRFC9440 only. An empty
// value means no certificate: (nil, nil). Errors wrap ErrMalformed and
// never quote the value.
func Parse(f Format, value, chainValue string) ([]*x509.Certificate, error) {
	value = strings.TrimSpace(value)
	switch f {
	case FormatRFC9440:
		if value == "" {
			return nil, nil
		}
		der, err := parseByteSequence(value)
		if err != nil {
			return nil, err
		}
		chain := [][]byte{der}
		if rest := strings.TrimSpace(chainValue); rest != "" {
			for item := range strings.SplitSeq(rest, ",") {
				if len(chain) >= maxChain {
					return nil, malformed("more than %d certificates", maxChain)
				}
				der, err := parseByteSequence(strings.TrimSpace(item))
				if err != nil {
					return nil, err
				}
				chain = append(chain, der)
			}
		}
		return parseDERs(chain)
	case FormatNginx:
		// nginx writes an empty value without a certificate; some set "-".
		if value == "" || value == "-" {
			return nil, nil
		}
		return parseEscapedPEM(value)
	case FormatEnvoy:
		if value == "" {
			return nil, nil
		}
		return parseXFCC(value)
	}
	return nil, fmt.Errorf("unknown client certificate header format %q", f)
}

// parseByteSequence reads an RFC 8941 section 3.3.5 byte sequence:
// ":" base64 ":". Parameters are not allowed: RFC 9440 defines none.
func parseByteSequence(s string) ([]byte, error) {
	if len(s) < 2 || s[0] != ':' || s[len(s)-1] != ':' {
		return nil, malformed("not a structured-field byte sequence")
	}
	b64 := s[1 : len(s)-1]
	// RFC 8941 section 3.3.5: padding may be omitted by senders; parsers
	// are told to accept both.
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if der, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, malformed("byte sequence is not base64")
		}
	}
	if len(der) == 0 {
		return nil, malformed("empty byte sequence")
	}
	return der, nil
}

// parseEscapedPEM reads URL-escaped PEM certificates (nginx, Envoy).
func parseEscapedPEM(s string) ([]*x509.Certificate, error) {
	// PathUnescape: a literal "+" (base64) stays a "+".
	raw, err := url.PathUnescape(s)
	if err != nil {
		return nil, malformed("bad %%-escape")
	}
	return parsePEM([]byte(raw))
}

// parsePEM reads one or more PEM CERTIFICATE blocks, nothing else.
func parsePEM(data []byte) ([]*x509.Certificate, error) {
	var ders [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, malformed("PEM block %q is not a CERTIFICATE", block.Type)
		}
		if len(ders) >= maxChain {
			return nil, malformed("more than %d certificates", maxChain)
		}
		ders = append(ders, block.Bytes)
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		return nil, malformed("data outside PEM CERTIFICATE blocks")
	}
	if len(ders) == 0 {
		return nil, malformed("no PEM certificate")
	}
	return parseDERs(ders)
}

func parseDERs(ders [][]byte) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, 0, len(ders))
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, malformed("not an X.509 certificate")
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// parseXFCC reads Envoy's X-Forwarded-Client-Cert. Of several elements the
// last one is used: it is the one the Envoy nearest to the gateway added
// for its own downstream peer (forward_client_cert_details APPEND_FORWARD);
// the earlier ones describe hops the gateway cannot vouch for.
func parseXFCC(s string) ([]*x509.Certificate, error) {
	elems, err := splitQuoted(s, ',')
	if err != nil {
		return nil, err
	}
	last := strings.TrimSpace(elems[len(elems)-1])
	pairs, err := splitQuoted(last, ';')
	if err != nil {
		return nil, err
	}
	var cert, chain string
	var haveCert, haveChain bool
	for _, p := range pairs {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return nil, malformed("element without key=value")
		}
		v, err := unquote(v)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.EqualFold(k, "Cert"):
			if haveCert {
				return nil, malformed("Cert is repeated")
			}
			cert, haveCert = v, true
		case strings.EqualFold(k, "Chain"):
			if haveChain {
				return nil, malformed("Chain is repeated")
			}
			chain, haveChain = v, true
		}
	}
	if !haveCert && !haveChain {
		// An element with only By, Hash, Subject, URI or DNS: Envoy was
		// not told to pass the certificate, so there is none to use.
		return nil, nil
	}
	var out []*x509.Certificate
	if haveCert {
		leaf, err := parseEscapedPEM(cert)
		if err != nil {
			return nil, err
		}
		if len(leaf) != 1 {
			return nil, malformed("Cert holds %d certificates, want 1", len(leaf))
		}
		out = leaf
	}
	if haveChain {
		c, err := parseEscapedPEM(chain)
		if err != nil {
			return nil, err
		}
		// Chain starts with the leaf (Envoy's Chain is the whole chain).
		if len(out) == 1 && !out[0].Equal(c[0]) {
			return nil, malformed("Chain does not start with Cert")
		}
		out = c
	}
	return out, nil
}

// splitQuoted splits s at sep outside double quotes; `\` escapes a
// character inside quotes.
func splitQuoted(s string, sep byte) ([]string, error) {
	var parts []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if inQuote {
		return nil, malformed("unterminated quote")
	}
	return append(parts, s[start:]), nil
}

// unquote removes the double quotes around an XFCC value and its `\`
// escapes; an unquoted value is returned as it is.
func unquote(v string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, `"`) {
		if strings.ContainsAny(v, `"\`) {
			return "", malformed("stray quote in a value")
		}
		return v, nil
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return "", malformed("unterminated quote")
	}
	var b strings.Builder
	body := v[1 : len(v)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' {
			if i+1 >= len(body) {
				return "", malformed("dangling escape")
			}
			i++
			c = body[i]
		} else if c == '"' {
			return "", malformed("stray quote in a value")
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// Encode writes chain (leaf first) as a header value in format f: RFC 9440
// Client-Cert (the leaf alone: the chain header is the other return), the
// nginx URL-escaped PEM of the leaf, or an Envoy element with Cert and,
// for a chain of more than one, Chain. chainValue is the RFC 9440
// Client-Cert-Chain value (the certificates after the leaf), "" otherwise.
func Encode(f Format, chain []*x509.Certificate) (value, chainValue string) {
	if len(chain) == 0 {
		return "", ""
	}
	switch f {
	case FormatNginx:
		return escapePEM(chain[:1]), ""
	case FormatEnvoy:
		v := `Cert="` + escapePEM(chain[:1]) + `"`
		if len(chain) > 1 {
			v += `;Chain="` + escapePEM(chain) + `"`
		}
		return v, ""
	default:
		value = ":" + base64.StdEncoding.EncodeToString(chain[0].Raw) + ":"
		items := make([]string, 0, len(chain)-1)
		for _, c := range chain[1:] {
			items = append(items, ":"+base64.StdEncoding.EncodeToString(c.Raw)+":")
		}
		return value, strings.Join(items, ", ")
	}
}

// escapePEM is the PEM of certs, every byte outside the unreserved set
// %-escaped (as nginx's $ssl_client_escaped_cert and Envoy do).
func escapePEM(certs []*x509.Certificate) string {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return url.PathEscape(string(b))
}
