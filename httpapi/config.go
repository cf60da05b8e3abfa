package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/runtime"
	"github.com/distsync/distsync/protocols/queue"
)

// Backend is the node an HTTP server fronts. *runtime.Host implements it.
type Backend interface {
	// Subscribe registers client as a local client of the node: every
	// message the node sends it arrives on the subscription's channel.
	Subscribe(client nodes.NodeID, buffer int) (*runtime.Subscription, error)
	// Do runs fn on the node's event loop and waits for it.
	Do(ctx context.Context, fn func(n nodes.Node, env nodes.Env)) error
}

var _ Backend = (*runtime.Host)(nil)

// Defaults of Config's zero fields.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 5 * time.Second
	DefaultClients        = 32
	DefaultSessionTTL     = 30 * time.Second
	DefaultMaxWait        = 30 * time.Second
	DefaultWaitGrace      = time.Second
	DefaultVisibility     = 30 * time.Second
)

// Bounds of Config's fields.
const (
	// MaxClients bounds Config.Clients.
	MaxClients = 4096
	// maxSelfBytes bounds Config.Self, so that the HTTP server's client ids
	// ("http.<self>.<n>") are valid node ids.
	maxSelfBytes = 48
)

// Config configures an HTTP server. The zero value of every optional field
// selects its Default constant.
type Config struct {
	// Self is the id of the node the server fronts (required).
	Self nodes.NodeID
	// Backend is that node, normally its *runtime.Host (required).
	Backend Backend
	// Peers maps node ids to their HTTP base URL ("http://10.0.0.2:8080",
	// scheme http or https, no query): where a follower or a non-owner
	// redirects a client (307, to the base URL + the same path and query).
	// It must hold every server of Locks and Queues; Self's entry is
	// optional.
	Peers map[nodes.NodeID]string
	// Locks configures the lock routes (/locks/...); nil when this node
	// runs no lock server: the routes then answer 404.
	Locks *LockConfig
	// Queues configures the queue routes (/queue/...); nil when this node
	// runs no queue server.
	Queues *QueueConfig
	// Caches configures the cache routes (/cache/...); nil when this node
	// runs no cache server.
	Caches *CacheConfig
	// Clients is the size of the pool of client ids the server sends
	// requests as ("http.<self>.0" ...), each used by one request at a
	// time (default DefaultClients, at most MaxClients).
	Clients int
	// MaxBodyBytes bounds a JSON request body (default 1 MiB); a larger
	// body is answered 413. A cache PUT is bounded by
	// CacheConfig.MaxValueBytes instead.
	MaxBodyBytes int64
	// RequestTimeout bounds each request the server sends the node: with
	// no reply within it, the client gets 503 "no quorum" (default 5s).
	// A lock acquire may wait longer, for its lock (LockConfig.MaxWait).
	RequestTimeout time.Duration
	// Registerer is where the server registers its metrics, and Gatherer
	// what GET /metrics serves. Both nil means a private registry; a nil
	// Gatherer with a Registerer that is also a Gatherer (a
	// *prometheus.Registry) means that one.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Logger receives the server's log records (nil means none).
	Logger *slog.Logger
}

// LockConfig configures the lock routes of a node that runs a lock server.
type LockConfig struct {
	// Servers are the lock servers (the Raft group), Self included.
	Servers []nodes.NodeID
	// SessionTTL is the TTL of the sessions the server opens for an
	// acquire or a session open that names none (default 30s; the lock
	// table refuses more than its MaxTTL, 60s by default).
	SessionTTL time.Duration
	// MaxWait bounds an acquire's "wait" (default 30s); the default wait
	// is Config.RequestTimeout, or MaxWait if shorter. An http.Server in
	// front must allow a response this late (WriteTimeout above MaxWait +
	// WaitGrace + RequestTimeout).
	MaxWait time.Duration
	// WaitGrace is how long after a queued acquire's wait the handler
	// still waits for the leader's answer before it gives up with 503
	// (default 1s).
	WaitGrace time.Duration
}

// QueueConfig configures the queue routes of a node that runs a queue
// server.
type QueueConfig struct {
	// Servers are the queue nodes of the ring's first epoch.
	Servers []nodes.NodeID
	// MaxPayloadBytes bounds an enqueued body, decoded (default
	// queue.DefaultMaxPayload, 1 MiB): the queue servers' own bound; a
	// larger body is answered 413.
	MaxPayloadBytes int
	// DefaultVisibility is a dequeue's visibility timeout when the request
	// names none (default 30s).
	DefaultVisibility time.Duration
}

// CacheConfig configures the cache routes of a node that runs a cache
// server.
type CacheConfig struct {
	// Servers are the cache nodes, Self included.
	Servers []nodes.NodeID
	// MaxValueBytes is the cache servers' caches.Config.MaxValueBytes
	// (default caches.DefaultMaxValueBytes). A stored value carries a
	// one-byte tag (see package doc), so a PUT body may hold at most
	// MaxValueBytes-1 bytes; more is answered 413.
	MaxValueBytes int
}

// settings is a validated Config with its defaults filled in.
type settings struct {
	Config
	peers    map[nodes.NodeID]string // base URLs without a trailing slash
	services []string                // "locks", "queues", "caches" present, in that order
}

// validate checks cfg and fills its defaults. Errors name the field and
// its value.
func (cfg Config) validate() (*settings, error) {
	s := &settings{Config: cfg, peers: map[nodes.NodeID]string{}}
	if err := cfg.Self.Validate(); err != nil {
		return nil, fmt.Errorf("httpapi config: self: %w", err)
	}
	if len(cfg.Self) > maxSelfBytes {
		return nil, fmt.Errorf("httpapi config: self: %q is %d bytes, at most %d", cfg.Self, len(cfg.Self), maxSelfBytes)
	}
	if cfg.Backend == nil {
		return nil, fmt.Errorf("httpapi config: backend: nil")
	}
	if err := s.validatePeers(); err != nil {
		return nil, err
	}
	if err := s.validateLimits(); err != nil {
		return nil, err
	}
	if err := s.validateServices(); err != nil {
		return nil, err
	}
	if err := s.validateMetrics(); err != nil {
		return nil, err
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.Logger = s.Logger.With("node", string(cfg.Self))
	return s, nil
}

func (s *settings) validatePeers() error {
	for _, id := range sortedIDs(s.Peers) {
		raw := s.Peers[id]
		if err := id.Validate(); err != nil {
			return fmt.Errorf("httpapi config: peers: %w", err)
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			return fmt.Errorf("httpapi config: peers[%s]: url %q: %w", id, raw, err)
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("httpapi config: peers[%s]: url %q: scheme %q, want http or https", id, raw, u.Scheme)
		case u.Host == "":
			return fmt.Errorf("httpapi config: peers[%s]: url %q: no host", id, raw)
		case u.RawQuery != "" || u.Fragment != "":
			return fmt.Errorf("httpapi config: peers[%s]: url %q: a base URL has no query or fragment", id, raw)
		}
		s.peers[id] = strings.TrimSuffix(raw, "/")
	}
	return nil
}

func (s *settings) validateLimits() error {
	if s.Clients == 0 {
		s.Clients = DefaultClients
	}
	if s.Clients < 1 || s.Clients > MaxClients {
		return fmt.Errorf("httpapi config: clients: %d outside [1, %d]", s.Clients, MaxClients)
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxBodyBytes < 0 {
		return fmt.Errorf("httpapi config: max_body_bytes: %d is negative", s.MaxBodyBytes)
	}
	return defaultDuration(&s.RequestTimeout, DefaultRequestTimeout, "request_timeout")
}

func (s *settings) validateServices() error {
	if s.Locks != nil {
		if err := s.validateLocks(); err != nil {
			return err
		}
		s.services = append(s.services, "locks")
	}
	if s.Queues != nil {
		if err := s.validateQueues(); err != nil {
			return err
		}
		s.services = append(s.services, "queues")
	}
	if s.Caches != nil {
		if err := s.validateCaches(); err != nil {
			return err
		}
		s.services = append(s.services, "caches")
	}
	return nil
}

// validateLocks checks and completes a copy of s.Locks.
func (s *settings) validateLocks() error {
	c := *s.Locks
	if err := s.checkServers("locks.servers", c.Servers, true, true); err != nil {
		return err
	}
	for _, d := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&c.SessionTTL, DefaultSessionTTL, "locks.session_ttl"},
		{&c.MaxWait, DefaultMaxWait, "locks.max_wait"},
		{&c.WaitGrace, DefaultWaitGrace, "locks.wait_grace"},
	} {
		if err := defaultDuration(d.v, d.def, d.name); err != nil {
			return err
		}
	}
	s.Locks = &c
	return nil
}

// validateQueues checks and completes a copy of s.Queues.
func (s *settings) validateQueues() error {
	c := *s.Queues
	if err := s.checkServers("queues.servers", c.Servers, false, true); err != nil {
		return err
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = queue.DefaultMaxPayload
	}
	if c.MaxPayloadBytes < 0 || c.MaxPayloadBytes > queue.MaxWirePayload {
		return fmt.Errorf("httpapi config: queues.max_payload_bytes: %d outside [1, %d]", c.MaxPayloadBytes, queue.MaxWirePayload)
	}
	if err := defaultDuration(&c.DefaultVisibility, DefaultVisibility, "queues.default_visibility"); err != nil {
		return err
	}
	if c.DefaultVisibility > queue.MaxVisibility {
		return fmt.Errorf("httpapi config: queues.default_visibility: %v above %v", c.DefaultVisibility, queue.MaxVisibility)
	}
	s.Queues = &c
	return nil
}

// validateCaches checks and completes a copy of s.Caches.
func (s *settings) validateCaches() error {
	c := *s.Caches
	if err := s.checkServers("caches.servers", c.Servers, true, false); err != nil {
		return err
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = caches.DefaultMaxValueBytes
	}
	if c.MaxValueBytes < 1 || c.MaxValueBytes > caches.MaxValueBytesLimit {
		return fmt.Errorf("httpapi config: caches.max_value_bytes: %d outside [1, %d]", c.MaxValueBytes, caches.MaxValueBytesLimit)
	}
	s.Caches = &c
	return nil
}

// checkServers validates a service's server list: non-empty, valid and
// distinct ids; with self, Self must be one of them; with urls, every
// server must have a base URL in Peers (redirects go there).
func (s *settings) checkServers(field string, ids []nodes.NodeID, self, urls bool) error {
	if len(ids) == 0 {
		return fmt.Errorf("httpapi config: %s: empty", field)
	}
	for i, id := range ids {
		if err := id.Validate(); err != nil {
			return fmt.Errorf("httpapi config: %s[%d]: %w", field, i, err)
		}
		if slices.Index(ids, id) != i {
			return fmt.Errorf("httpapi config: %s: %q listed twice", field, id)
		}
		if _, ok := s.peers[id]; urls && !ok && id != s.Self {
			return fmt.Errorf("httpapi config: %s: %q has no URL in peers", field, id)
		}
	}
	if self && !slices.Contains(ids, s.Self) {
		return fmt.Errorf("httpapi config: %s: %v does not include self %q", field, ids, s.Self)
	}
	return nil
}

func (s *settings) validateMetrics() error {
	switch {
	case s.Registerer == nil && s.Gatherer == nil:
		reg := prometheus.NewRegistry()
		s.Registerer, s.Gatherer = reg, reg
	case s.Registerer == nil:
		return fmt.Errorf("httpapi config: registerer: nil while gatherer is set")
	case s.Gatherer == nil:
		g, ok := s.Registerer.(prometheus.Gatherer)
		if !ok {
			return fmt.Errorf("httpapi config: gatherer: nil, and registerer %T is no prometheus.Gatherer", s.Registerer)
		}
		s.Gatherer = g
	}
	return nil
}

// defaultDuration replaces a zero *v by def and rejects a negative one.
func defaultDuration(v *time.Duration, def time.Duration, name string) error {
	if *v < 0 {
		return fmt.Errorf("httpapi config: %s: %v is negative", name, *v)
	}
	if *v == 0 {
		*v = def
	}
	return nil
}

// sortedIDs returns m's keys, sorted.
func sortedIDs[V any](m map[nodes.NodeID]V) []nodes.NodeID {
	out := make([]nodes.NodeID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
