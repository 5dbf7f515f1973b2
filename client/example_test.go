package client_test

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
)

func ExampleParse() {
	_, err := client.Parse([]byte(`{"clients": [
		{"client_id": "bank-app", "client_secret": "s3cret", "redirect_uris": ["http://x/cb#frag"], "par_lifetime": 3600}
	]}`))
	fmt.Println(err)
	// Output:
	// client "bank-app": redirect_uris: "http://x/cb#frag" has a fragment (RFC 6749 section 3.1.2)
	// client "bank-app": par_lifetime: 3600 is out of range: 0 (the gateway default) or 5 to 600 seconds (RFC 9126, section 2.2)
}

func ExampleAuthenticator_Authenticate() {
	reg, err := client.Parse([]byte(`{"clients": [
		{"client_id": "bank-app", "client_secret": "s3cret", "redirect_uris": ["https://bank.example/cb"]}
	]}`))
	if err != nil {
		panic(err)
	}
	a := &client.Authenticator{Registry: reg}
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}

	c, method, err := a.Authenticate(context.Background(), basic("bank-app", "s3cret"), nil)
	fmt.Println(c.ID, method, err)

	_, method, err = a.Authenticate(context.Background(), basic("bank-app", "wrong"), nil)
	e := oauth.From(err)
	fmt.Println(e.Status, e.Code, e.Description)
	if method == client.AuthSecretBasic {
		fmt.Println(`WWW-Authenticate: Basic realm="parjarm"`)
	}
	// Output:
	// bank-app client_secret_basic <nil>
	// 401 invalid_client client authentication failed
	// WWW-Authenticate: Basic realm="parjarm"
}
