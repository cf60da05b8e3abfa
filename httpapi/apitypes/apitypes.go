// Package apitypes holds the JSON bodies of a node's HTTP API (package
// httpapi): the requests a client sends and the answers the server
// writes. The server (httpapi) and the Go client (httpapi/client) both
// use these types, so they agree on every field by construction.
//
// The package depends on the standard library only. Durations travel as
// strings ("2s", "500ms": see Duration); message ids and receipts as
// decimal strings (see Decimal). Optional request fields are pointers or
// omitted when zero.
//
// The fields of the answer types that the server used to write as JSON
// objects built on the fly are declared in the alphabetical order of
// their JSON names, which is the order encoding/json writes a map in: the
// server's answers are the same bytes they always were.
package apitypes

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Response headers of GET /cache/{key}.
const (
	// HeaderVersion carries the value's version.
	HeaderVersion = "X-Cache-Version"
	// HeaderHit is "true" if the node served the value from its own cache.
	HeaderHit = "X-Cache-Hit"
)

// Lock modes of AcquireRequest.Mode and of the holders and waiters of a
// LockState.
const (
	ModeExclusive = "exclusive"
	ModeShared    = "shared"
)

// Error codes: the stable, machine-readable "code" of an error answer
// (ErrorBody.Code) that callers most often test. The lock and queue
// services have more (see httpapi's package documentation).
const (
	CodeBadRequest     = "bad_request"      // 400: a field is wrong (ErrorBody.Field names it)
	CodeNotFound       = "not_found"        // 404: no such route, or a cache key never written or deleted
	CodeServiceNotHere = "service_not_here" // 404: this node does not run the service
	CodeTooLarge       = "too_large"        // 413: a body or value over the limit
	CodeRedirect       = "redirect"         // 307: another node (the leader) serves this request
	CodeNoQuorum       = "no_quorum"        // 503: no leader, or no reply in time
	CodeBusy           = "busy"             // 503: the node refused the request for now
	CodeUnavailable    = "unavailable"      // 503: the node could not serve
	CodeStopped        = "stopped"          // 503: the node is shutting down
	CodeQueueMoved     = "queue_moved"      // 503: the queue moves to another group
	CodeUnhealthy      = "unhealthy"        // 503 from /health
	CodeWaitTimeout    = "wait_timeout"     // 408: a queued acquire's wait ran out
	CodeWouldBlock     = "would_block"      // 409: a try-lock (wait "0s") found the lock held
	CodeDeadlockVictim = "deadlock_victim"  // 409: the wait was aborted to break a deadlock
	CodeUnknownSession = "unknown_session"  // 404: no live session has this id
	CodeSessionExpired = "session_expired"  // 409: the session expired
	CodeNotHolder      = "not_holder"       // 409: a release of a lock the session does not hold
	CodeUnknownReceipt = "unknown_receipt"  // 409: an ack or nack of a receipt no longer valid
)

// Duration returns d as a duration field of a request holds it: a
// pointer to its string form ("1.5s").
func Duration(d time.Duration) *string {
	s := d.String()
	return &s
}

// Decimal is a uint64 carried in JSON as a decimal string ("123"): message
// ids and receipts carry a ring epoch in their high bits and may exceed
// 2^53, beyond what many JSON parsers keep exact. A bare number is accepted
// on input too.
type Decimal uint64

// MarshalJSON implements json.Marshaler.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatUint(uint64(d), 10)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseUint(strings.Trim(string(b), `"`), 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[uint64]()}
	}
	*d = Decimal(v)
	return nil
}

// String returns the decimal form.
func (d Decimal) String() string { return strconv.FormatUint(uint64(d), 10) }

// ParseDecimal reads a decimal string, as a receipt is written.
func ParseDecimal(s string) (Decimal, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	return Decimal(v), err
}

// ErrorBody is the body of every error answer: {"error": message, "code":
// name, "field": field}, plus fields particular to the error (the leader
// of a redirect, the session of a failed acquire...).
type ErrorBody struct {
	// Error is the human-readable message.
	Error string `json:"error"`
	// Code is a stable, machine-readable name ("would_block").
	Code string `json:"code,omitempty"`
	// Field names the request field at fault, for a 400.
	Field string `json:"field,omitempty"`
}

// Health is the answer to GET /health.
type Health struct {
	Node   string `json:"node"`   // the node's id
	Status string `json:"status"` // "ok"
}
