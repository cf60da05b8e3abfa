// Package admin serves a node's admin HTTP endpoint: the network faults
// (nodes/runtime.Faults) that real fault injection applies to what the
// node sends. A scenario driving a real cluster sets partitions, loss,
// delay and duplication through it, and heals them.
//
// The endpoint is meant to exist only when a node starts with
// --enable-fault-injection, and to listen on loopback only: Listen refuses
// any other address. It has no authentication of its own; whoever can
// reach it can cut the node off its cluster.
//
// Routes:
//
//	GET    /faults  the faults in force, as JSON
//	PUT    /faults  replace them (a JSON object; strict, at most MaxBodyBytes)
//	DELETE /faults  heal: clear every fault
//
// Every answer is JSON: the faults in force after the request, or
// {"error": "...", "field": "..."} (field only when one is at fault) with
// status 400 (bad value), 404, 405 (with Allow), 413 (body over
// MaxBodyBytes) or 500.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/distsync/distsync/nodes/runtime"
)

// MaxBodyBytes bounds a PUT /faults body; a larger one is answered 413.
const MaxBodyBytes = 1 << 20

// FaultsPath is the path of the faults resource.
const FaultsPath = "/faults"

// allowed lists the methods of FaultsPath, for 405's Allow header.
const allowed = "GET, PUT, DELETE"

// FaultSetter is what the endpoint drives: *runtime.Host satisfies it.
type FaultSetter interface {
	// SetFaults replaces the faults in force; invalid faults are refused
	// with a *runtime.FaultError and change nothing.
	SetFaults(runtime.Faults) error
	// Faults returns the faults in force.
	Faults() runtime.Faults
}

var _ FaultSetter = (*runtime.Host)(nil)

// Handler returns the admin endpoint for h. A nil logger logs nothing.
func Handler(h FaultSetter, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &handler{h: h, log: logger}
}

type handler struct {
	h   FaultSetter
	log *slog.Logger
}

// ServeHTTP implements http.Handler.
func (a *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != FaultsPath {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no resource %q (try %s)", r.URL.Path, FaultsPath))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, a.h.Faults())
	case http.MethodPut:
		f, status, field, err := decodeFaults(w, r)
		if err != nil {
			a.log.Warn("fault injection request refused", "remote", r.RemoteAddr, "status", status, "field", field, "err", err)
			writeError(w, status, field, err.Error())
			return
		}
		a.set(w, r, f, "network faults replaced")
	case http.MethodDelete:
		a.set(w, r, runtime.Faults{}, "network faults healed")
	default:
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, FaultsPath, allowed))
	}
}

// set installs f and answers with the faults now in force.
func (a *handler) set(w http.ResponseWriter, r *http.Request, f runtime.Faults, what string) {
	if err := a.h.SetFaults(f); err != nil {
		var fe *runtime.FaultError
		if errors.As(err, &fe) {
			a.log.Warn("fault injection request refused", "remote", r.RemoteAddr, "status", http.StatusBadRequest, "field", fe.Field, "err", err)
			writeError(w, http.StatusBadRequest, fe.Field, err.Error())
			return
		}
		a.log.Error("setting network faults failed", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	now := a.h.Faults()
	a.log.Info(what, "remote", r.RemoteAddr, "drop", now.Drop, "loss", now.Loss, "delay", now.Delay,
		"jitter", now.Jitter, "duplicate", now.Duplicate)
	writeJSON(w, http.StatusOK, now)
}

// decodeFaults reads a PUT body: one JSON object, at most MaxBodyBytes,
// decoded strictly: runtime.Faults' UnmarshalJSON refuses unknown fields
// itself (a decoder's DisallowUnknownFields does not reach into a type's
// own UnmarshalJSON). On
// error it returns the status to answer and the field at fault, if any.
func decodeFaults(w http.ResponseWriter, r *http.Request) (f runtime.Faults, status int, field string, err error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return f, decodeStatus(err), "", decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return f, http.StatusBadRequest, "", errors.New("request body: more than one JSON value")
		}
		return f, decodeStatus(err), "", decodeError(err)
	}
	if !strings.HasPrefix(string(raw), "{") { // RawMessage holds the value without leading space
		return f, http.StatusBadRequest, "", errors.New("request body: want a JSON object")
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		var fe *runtime.FaultError
		if errors.As(err, &fe) {
			return f, http.StatusBadRequest, fe.Field, err
		}
		return f, http.StatusBadRequest, "", fmt.Errorf("request body: %w", err)
	}
	return f, 0, "", nil
}

// decodeStatus is 413 for a body over the limit, 400 otherwise.
func decodeStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// decodeError explains a failure to read the body as one JSON value.
func decodeError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Errorf("request body over %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return errors.New("request body: empty, want a JSON object")
	}
	return fmt.Errorf("request body: %w", err)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeError writes {"error": msg, "field": field} with status.
func writeError(w http.ResponseWriter, status int, field, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Field: field})
}

// Listen listens on addr (TCP, "host:port") only if its host is loopback:
// "localhost", or a literal address in 127.0.0.0/8 or ::1. Anything else,
// an empty host (every interface) and other host names included, is
// refused before binding; the bound address is checked again, so a
// "localhost" that resolves elsewhere is refused too.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen address %q: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return nil, fmt.Errorf("admin: listen address %q: the admin endpoint listens on loopback only (127.0.0.1, ::1 or localhost), not %q", addr, host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen address %q: %w", addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("admin: listen address %q: bound %s, which is not loopback", addr, ln.Addr())
	}
	return ln, nil
}

// isLoopbackHost reports whether host names a loopback address without a
// DNS lookup.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
