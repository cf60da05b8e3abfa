// Package httpapi is the HTTP API of a node running in TCP mode: the
// original design's routes for the lock service, the queue and the cache,
// plus /health, /status and /metrics, in JSON over net/http.
//
// A Server turns each HTTP request into the service's request message,
// delivers it to the node's event loop through a runtime.Subscription, and
// waits for the node's answer: the same messages and the same flow as the
// simulated clients (nodes/locks.Client and the others). It holds no
// service state of its own.
//
// # Routing
//
// A lock command is served by the Raft leader, which alone notifies the end
// of a queued wait: a follower that knows the leader answers 307 with
// Location = the leader's base URL (Config.Peers) + the same path, and the
// client sends the same request there again (307 keeps the method and the
// body). A queue command is served by the leader of its queue's group: a
// node outside the group, or a follower, redirects the same way. A node
// that knows no leader answers 503 {"error":"no quorum"} with Retry-After
// at once; so does a request that gets no reply within RequestTimeout. Any
// cache node serves any key.
//
// # Errors
//
// Every error is JSON: {"error": message, "code": name, "field": field}
// (field for bad input: 400 names it). 404 for an unknown route or a
// service this node does not run, 405 for a wrong method (with Allow), 413
// for a body over the limit.
//
// # Cache values
//
// The cache protocol has no delete. DELETE /cache/{key} writes a tombstone
// through the protocol like any PUT, and every stored value carries a
// one-byte tag: 0x01 followed by the value for a live value (so an empty
// value is possible), 0x00 alone for a tombstone. GET answers 404 for a
// tombstone and for a key never written. A stored value without a tag
// (written by a client other than this API) is returned as is.
//
// # Routes
//
// Bodies are JSON unless stated; optional fields in brackets. Durations are
// strings ("2s", "500ms"). Message ids and receipts are decimal strings.
// The bodies are the types of package httpapi/apitypes, which the Go
// client (httpapi/client) shares.
//
//	POST /locks/acquire  {resource, mode: "exclusive"|"shared", [session], [ttl], [wait], [client, seq]}
//	                     200 {granted: true, token, session, client, seq, resource, mode}
//	                     409 would_block, deadlock_victim... | 408 wait_timeout
//	POST /locks/release  {session, resource, [client, seq]}  200 {ok: true, session, client, seq}
//	POST /locks/renew    {session, [client, seq]}            200 {ok: true, session, client, seq}
//	POST /locks/session  {[ttl], [client, seq]}              200 {session, client, seq, ttl}
//	POST /locks/session/close {session, [client, seq]}       200 {ok: true, session, client, seq}
//	GET  /locks/{resource}  200 {resource, holders: [{session, client, mode, token}],
//	                             waiters: [{session, client, mode, request}]}
//	POST /queue/enqueue  {queue, body: base64, [dedup_id], [client, seq]}  200 {queue, id, duplicate}
//	POST /queue/dequeue  {queue, [visibility], [client, seq]}
//	                     200 {queue, empty: false, id, receipt, body, deliveries, [gone]} or {queue, empty: true}
//	POST /queue/ack      {queue, receipt, [client, seq]}     200 {acked: true, queue, receipt}
//	POST /queue/nack     {queue, receipt, [client, seq]}     200 {nacked: true, queue, receipt}
//	GET    /cache/{key}  200 the value (octet-stream; X-Cache-Version, X-Cache-Hit) | 404
//	PUT    /cache/{key}  the value as the body               200 {key, version}
//	DELETE /cache/{key}                                      200 {key, version, deleted: true}
//	GET /health  200 {status: "ok", node} | 503
//	GET /status  200 {node, services, [locks], [queues], [caches]}
//	GET /metrics Prometheus text format
//
// An acquire without a session opens one (TTL: ttl, default
// LockConfig.SessionTTL) and returns it; if it does not get the lock, the
// session is closed again. "wait" is how long to queue for the lock ("0s":
// a try-lock; default RequestTimeout); a queued acquire answers when the
// leader's Notify comes. Release, renew and close run as the session's
// owner, found on the leader, so a caller only needs the session id.
//
// # Exactly-once
//
// The server sends requests as client ids of its own pool ("http.<self>.<n>"),
// each used by one request at a time, with sequence numbers that grow with
// the wall clock (so they keep growing across restarts). A caller that wants
// its retries applied at most once may instead name its own "client" and
// "seq" (seq >= 1, growing) in a lock or queue request, and send the same
// pair again when it retries: the node answers a retry from its cache. An
// acquire that names its client needs a session (POST /locks/session
// opens one with the caller's client and seq).
package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/nodes"
)

// Server is the HTTP API of one node. It implements http.Handler; its
// handlers run concurrently and talk to the node only through the Backend.
type Server struct {
	s       *settings
	clients *clientSet
	routes  []route
	metrics *metrics
	scrape  http.Handler
}

var _ http.Handler = (*Server)(nil)

// handler serves one route; a nil result means it wrote the response.
type handler func(w http.ResponseWriter, r *http.Request) *apiError

// route is one entry of the routing table.
type route struct {
	method  string
	path    string // exact path, or a prefix ending in "/" when prefix
	prefix  bool
	service string // "locks", "queues", "caches", or "" for node routes
	h       handler
}

// New validates cfg and returns the node's HTTP server. Its metrics are
// registered with cfg.Registerer; Close unregisters them.
func New(cfg Config) (*Server, error) {
	st, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	srv := &Server{s: st, clients: newClientSet(st.Backend, st.Self, st.Clients)}
	srv.metrics = newMetrics(srv)
	if err := srv.metrics.register(st.Registerer); err != nil {
		return nil, fmt.Errorf("httpapi config: registerer: %w", err)
	}
	srv.scrape = promhttp.HandlerFor(st.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	srv.routes = srv.routeTable()
	return srv, nil
}

// Close unregisters the server's metrics. Requests in progress are not
// interrupted; the caller shuts its http.Server down first.
func (srv *Server) Close() { srv.metrics.unregister(srv.s.Registerer) }

func (srv *Server) routeTable() []route {
	return []route{
		{method: http.MethodGet, path: "/health", h: srv.health},
		{method: http.MethodGet, path: "/status", h: srv.status},
		{method: http.MethodGet, path: "/metrics", h: srv.serveMetrics},
		{method: http.MethodPost, path: "/locks/acquire", service: "locks", h: srv.lockAcquire},
		{method: http.MethodPost, path: "/locks/release", service: "locks", h: srv.lockRelease},
		{method: http.MethodPost, path: "/locks/renew", service: "locks", h: srv.lockRenew},
		{method: http.MethodPost, path: "/locks/session", service: "locks", h: srv.lockOpen},
		{method: http.MethodPost, path: "/locks/session/close", service: "locks", h: srv.lockClose},
		{method: http.MethodGet, path: "/locks/", prefix: true, service: "locks", h: srv.lockQuery},
		{method: http.MethodPost, path: "/queue/enqueue", service: "queues", h: srv.enqueue},
		{method: http.MethodPost, path: "/queue/dequeue", service: "queues", h: srv.dequeue},
		{method: http.MethodPost, path: "/queue/ack", service: "queues", h: srv.ack},
		{method: http.MethodPost, path: "/queue/nack", service: "queues", h: srv.nack},
		{method: http.MethodGet, path: "/cache/", prefix: true, service: "caches", h: srv.cacheGet},
		{method: http.MethodPut, path: "/cache/", prefix: true, service: "caches", h: srv.cachePut},
		{method: http.MethodDelete, path: "/cache/", prefix: true, service: "caches", h: srv.cacheDelete},
	}
}

// match returns the routes whose path matches: the exact ones if any (so
// GET /locks/acquire is a wrong method, not a query of "acquire"), else the
// prefix ones.
func (srv *Server) match(path string) []route {
	var exact, prefix []route
	for _, rt := range srv.routes {
		switch {
		case !rt.prefix && path == rt.path:
			exact = append(exact, rt)
		case rt.prefix && strings.HasPrefix(path, rt.path):
			prefix = append(prefix, rt)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return prefix
}

// ServeHTTP implements http.Handler.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status := srv.serve(w, r)
	lvl := srv.s.Logger.Debug
	if status >= 500 {
		lvl = srv.s.Logger.Warn
	}
	lvl("http request", "method", r.Method, "path", r.URL.Path, "status", status, "took", time.Since(start))
}

// serve routes r and returns the status of an error answer (0 if the
// handler answered itself).
func (srv *Server) serve(w http.ResponseWriter, r *http.Request) int {
	routes := srv.match(r.URL.Path)
	if len(routes) == 0 {
		return fail(w, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), code: "not_found"})
	}
	if svc := routes[0].service; svc != "" && !slices.Contains(srv.s.services, svc) {
		return fail(w, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("the %s service is not on this node", svc),
			code: "service_not_here", extra: map[string]any{"service": svc, "node": string(srv.s.Self)}})
	}
	var allow []string
	for _, rt := range routes {
		if rt.method == r.Method {
			if e := rt.h(w, r); e != nil {
				return fail(w, e)
			}
			return 0
		}
		allow = append(allow, rt.method)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return fail(w, &apiError{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")), code: "method_not_allowed"})
}

// fail writes e and returns its status.
func fail(w http.ResponseWriter, e *apiError) int {
	writeError(w, e)
	return e.status
}

// withTimeout bounds one request to the node.
func (srv *Server) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, srv.s.RequestTimeout)
}

// redirect answers a request that another node must serve: 307 to the
// same path on leader's base URL, or 503 when the leader is unknown or has
// no URL.
func (srv *Server) redirect(r *http.Request, leader nodes.NodeID) *apiError {
	if leader == "" {
		return noQuorum("this node knows no leader")
	}
	base, ok := srv.s.peers[leader]
	if !ok || leader == srv.s.Self {
		return noQuorum(fmt.Sprintf("leader %s has no known HTTP address", leader))
	}
	return &apiError{status: http.StatusTemporaryRedirect, msg: "not leader", code: "redirect",
		location: base + r.URL.RequestURI(), extra: map[string]any{"leader": string(leader)}}
}

// health answers 200 if the node's event loop runs (it serves a no-op
// call in time), 503 otherwise.
func (srv *Server) health(w http.ResponseWriter, r *http.Request) *apiError {
	ctx, cancel := srv.withTimeout(r.Context())
	defer cancel()
	if err := srv.s.Backend.Do(ctx, func(nodes.Node, nodes.Env) {}); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, msg: err.Error(), code: "unhealthy",
			extra: map[string]any{"status": "unavailable", "node": string(srv.s.Self)}}
	}
	writeJSON(w, http.StatusOK, apitypes.Health{Status: "ok", Node: string(srv.s.Self)})
	return nil
}

// serveMetrics serves the Prometheus text format.
func (srv *Server) serveMetrics(w http.ResponseWriter, r *http.Request) *apiError {
	srv.scrape.ServeHTTP(w, r)
	return nil
}
