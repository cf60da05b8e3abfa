package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
)

// apiError is an error answer: its status and the JSON body
// {"error": msg, "field": field, "code": code, ...extra}.
type apiError struct {
	status     int
	msg        string
	field      string         // the request field at fault, for 400s
	code       string         // a stable, machine-readable name ("would_block")
	retryAfter time.Duration  // sets Retry-After (503, 429)
	location   string         // sets Location (307)
	extra      map[string]any // more fields of the body
}

func (e *apiError) Error() string { return e.msg }

// badField is a 400 naming the field at fault.
func badField(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...), field: field, code: "bad_request"}
}

// noQuorum is the 503 a client gets when no leader answers.
func noQuorum(why string) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, msg: "no quorum", code: "no_quorum",
		retryAfter: time.Second, extra: map[string]any{"detail": why}}
}

// busy is a 503 for a node that refused a request for now.
func busy(detail string) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, msg: "busy", code: "busy",
		retryAfter: time.Second, extra: map[string]any{"detail": detail}}
}

// with adds a field to the error's body.
func (e *apiError) with(key string, v any) *apiError {
	if e.extra == nil {
		e.extra = map[string]any{}
	}
	e.extra[key] = v
	return e
}

// asAPIError turns an error met while talking to the node into an
// answer: a context deadline is "no quorum" (no reply in time), anything
// else is a 503 too, since the node could not serve.
func asAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded):
		return noQuorum("no reply within the request timeout")
	case errors.Is(err, context.Canceled):
		return &apiError{status: 499, msg: "request cancelled", code: "cancelled"}
	case errors.Is(err, errNodeStopped):
		return &apiError{status: http.StatusServiceUnavailable, msg: "node stopped", code: "stopped", retryAfter: time.Second}
	}
	return &apiError{status: http.StatusServiceUnavailable, msg: err.Error(), code: "unavailable", retryAfter: time.Second}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes e as JSON, with its headers.
func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"error": e.msg}
	for k, v := range e.extra {
		body[k] = v
	}
	if e.field != "" {
		body["field"] = e.field
	}
	if e.code != "" {
		body["code"] = e.code
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	if e.location != "" {
		w.Header().Set("Location", e.location)
	}
	writeJSON(w, e.status, body)
}

// decode reads a JSON body into v strictly: at most limit bytes (413
// beyond), no unknown field, one value and nothing after it. Errors name
// the field when the decoder says which. The Content-Type is not checked
// (curl -d sends a form type).
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) *apiError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return badField("", "request body: more than one JSON value")
		}
		return decodeError(err, limit)
	}
	return nil
}

// decodeError explains a JSON decoding failure.
func decodeError(err error, limit int64) *apiError {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var b64Err base64.CorruptInputError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body over %d bytes", limit), code: "too_large"}
	case errors.As(err, &typeErr):
		return badField(typeErr.Field, "field %q: JSON %s where %s is expected", typeErr.Field, typeErr.Value, typeErr.Type)
	case errors.As(err, &syntaxErr):
		return badField("", "request body: invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.As(err, &b64Err): // the only []byte field of the requests is "body"
		return badField("body", "field \"body\": not valid base64 (standard encoding, padded): %v", err)
	case errors.Is(err, io.EOF):
		return badField("", "request body: empty, want a JSON object")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return badField(field, "unknown field %q", field)
	}
	return badField("", "request body: %v", err)
}

// parseDuration reads an optional duration field ("2s", "0s").
func parseDuration(field string, v *string, def time.Duration) (time.Duration, *apiError) {
	if v == nil {
		return def, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		return 0, badField(field, "%s: %q is not a duration like \"2s\" or \"500ms\"", field, *v)
	}
	if d < 0 {
		return 0, badField(field, "%s: %v is negative", field, d)
	}
	return d, nil
}

// clientField validates a caller-supplied (client, seq) pair: both or
// neither, a valid node id outside the server's pool names, seq > 0.
func clientField(client string, seq uint64) *apiError {
	switch {
	case client == "" && seq == 0:
		return nil
	case client == "":
		return badField("client", "client: required with seq")
	case seq == 0:
		return badField("seq", "seq: required with client, and at least 1")
	case isPoolID(client):
		return badField("client", "client: %q: names starting with %q are reserved", client, poolPrefix)
	}
	if err := nodes.NodeID(client).Validate(); err != nil {
		return badField("client", "client: %v", err)
	}
	return nil
}

// rejection maps a service's sentinel error to its HTTP answer: status,
// machine-readable code, and the request field at fault ("" for none).
type rejection struct {
	sentinel error
	status   int
	code     string
	field    string
}

// rejected turns err into the answer of the first rejection in table it
// wraps (with Retry-After on 429 and 503), or a generic 409 "rejected".
func rejected(table []rejection, err error) *apiError {
	for _, r := range table {
		if errors.Is(err, r.sentinel) {
			e := &apiError{status: r.status, msg: err.Error(), code: r.code, field: r.field}
			if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
				e.retryAfter = time.Second
			}
			return e
		}
	}
	return &apiError{status: http.StatusConflict, msg: fmt.Sprint(err), code: "rejected"}
}
