// Package jarm encodes authorization responses as JWTs (JWT Secured
// Authorization Response Mode, "JARM", OpenID FAPI) and holds the gateway's
// signing keys.
//
// The package does no HTTP: the proxy intercepts the upstream's
// authorization response, collects its parameters and calls
// [Encoder.Encode]; it then delivers the JWT in the requested response mode.
// Discovery publishes [KeySet.Public] in the gateway's jwks_uri and merges
// [Metadata] into the upstream's metadata document.
package jarm
