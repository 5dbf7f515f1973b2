package jarm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/jarm"
)

func ExampleEncoder_Encode() {
	keys, err := jarm.GenerateDevelopmentKeys()
	if err != nil {
		panic(err)
	}
	enc, err := jarm.NewEncoder(keys, nil, jarm.Options{
		Issuer: "https://as.example.com",
		Now:    func() time.Time { return time.Unix(1_800_000_000, 0) },
	})
	if err != nil {
		panic(err)
	}
	c := &client.Client{ID: "s6BhdRkqt3", AuthorizationSignedResponseAlg: "PS256"}
	response, err := enc.Encode(context.Background(), c, url.Values{
		"code":  {"SplxlOBeZQQYbYS6WxSbIA"},
		"state": {"S8NJ7uqk5fY4EjNvP_G_FtyJu6pUsvH9jsYni9dMAJw"},
	})
	if err != nil {
		panic(err)
	}

	// The client verifies the response with the gateway's published keys.
	tok, err := jwt.ParseSigned(response, []jose.SignatureAlgorithm{jose.PS256})
	if err != nil {
		panic(err)
	}
	var claims map[string]any
	if err := tok.Claims(keys.Public(), &claims); err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(claims, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "aud": "s6BhdRkqt3",
	//   "code": "SplxlOBeZQQYbYS6WxSbIA",
	//   "exp": 1800000300,
	//   "iat": 1800000000,
	//   "iss": "https://as.example.com",
	//   "state": "S8NJ7uqk5fY4EjNvP_G_FtyJu6pUsvH9jsYni9dMAJw"
	// }
}

func ExampleMetadata() {
	keys, err := jarm.GenerateDevelopmentKeys()
	if err != nil {
		panic(err)
	}
	enc, err := jarm.NewEncoder(keys, nil, jarm.Options{Issuer: "https://as.example.com"})
	if err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(jarm.Metadata(enc), "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "authorization_encryption_alg_values_supported": [
	//     "RSA-OAEP-256",
	//     "RSA-OAEP",
	//     "ECDH-ES",
	//     "ECDH-ES+A128KW",
	//     "ECDH-ES+A256KW"
	//   ],
	//   "authorization_encryption_enc_values_supported": [
	//     "A128CBC-HS256",
	//     "A256CBC-HS512",
	//     "A128GCM",
	//     "A256GCM"
	//   ],
	//   "authorization_signing_alg_values_supported": [
	//     "RS256",
	//     "PS256",
	//     "ES256",
	//     "ES384",
	//     "EdDSA",
	//     "HS256"
	//   ]
	// }
}
