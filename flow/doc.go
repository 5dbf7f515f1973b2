// Package flow tracks authorization flows that the gateway must see the end
// of: a transaction is opened when a pushed request is expanded or a JARM
// response mode is asked for; the upstream sees the transaction id as
// `state`; its final redirect is intercepted, and the response is delivered
// to the client in the mode it asked for. The package also holds the response
// mode rules and the writers for each mode.
package flow
