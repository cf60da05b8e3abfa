// Package runtime runs distsync nodes as real processes: the same node code
// that the simulator (package sim) drives, here on the wall clock, real
// timers, files in a directory and TCP connections.
//
// A Host owns one node. One goroutine per Host runs the node's event loop:
// messages from the network, timer firings and external calls (Host.Do,
// Host.Request) all pass through one bounded channel, so the node's handlers
// never run concurrently, exactly as in the simulator.
//
// The transport frames every message with wire.AppendFrame around
// nodes.AppendEnvelope, keeps one persistent outbound connection per peer,
// reconnects with capped, jittered exponential backoff, and never blocks the
// event loop: each peer has a bounded send queue that drops (and counts)
// when full. Messages may thus be lost, which the node contract allows.
//
// Every new peer connection starts with a handshake (see handshake.go): the
// dialer proves it holds the cluster's Token and names itself and the node
// it meant to reach; the acceptor checks all of it and proves, in turn,
// that it holds the Token too. Only then do frames flow, and every frame of
// the connection must come from the node the handshake named. With
// ServerTLS and ClientTLS the connections run over TLS and the handshake
// runs inside it.
package runtime

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// Defaults for the zero fields of Config.
const (
	// DefaultListen is where a node listens when neither Config.Listen nor
	// its own entry in Config.Peers says otherwise: loopback, any free port.
	DefaultListen = "127.0.0.1:0"
	// DefaultSendQueue bounds each peer's queue of frames awaiting a write.
	DefaultSendQueue = 1024
	// DefaultEventQueue bounds the event loop's channel.
	DefaultEventQueue = 1024
	// DefaultDialTimeout bounds one connection attempt to a peer, its
	// handshakes included.
	DefaultDialTimeout = time.Second
	// DefaultBackoffMin is the first reconnect delay after a failure.
	DefaultBackoffMin = 10 * time.Millisecond
	// DefaultBackoffMax caps the reconnect delay.
	DefaultBackoffMax = time.Second
	// DefaultFlushTimeout bounds how long Stop spends writing queued frames.
	DefaultFlushTimeout = 200 * time.Millisecond
)

// MaxTokenBytes bounds Config.Token.
const MaxTokenBytes = 1 << 10

// maxQueue bounds the configurable queue sizes, so a typo cannot make the
// runtime reserve gigabytes of channel buffers.
const maxQueue = 1 << 20

// Config describes one node of a TCP cluster. The zero value of every
// optional field selects its Default constant.
type Config struct {
	// ID is this node's id; it must be a key of Peers.
	ID nodes.NodeID
	// Peers maps every node of the cluster, this one included, to its TCP
	// address ("host:port"). This node's own address may be empty.
	Peers map[nodes.NodeID]string
	// Listen is the address to listen on. Empty means this node's entry in
	// Peers, or DefaultListen if that is empty too.
	Listen string
	// Listener, if set, is used instead of listening on Listen: a test or a
	// supervisor can bind the port first and learn its address. The Host
	// closes it on Stop.
	Listener net.Listener
	// Dir is the directory that backs the node's Disk; it is created if
	// missing. Restarting a node on the same Dir is a crash recovery.
	Dir string
	// Factory builds the node value.
	Factory nodes.Factory
	// Seed seeds the node's random source (mixed with ID, so nodes sharing
	// a seed still differ). Zero means a seed drawn from crypto/rand; the
	// seed in use is reported by Host.Seed, so a run can be reproduced as
	// far as the wall clock allows.
	Seed uint64
	// Logger receives the node's Logf lines (at Info) and the runtime's own
	// events. Nil means a text logger on LogWriter.
	Logger *slog.Logger
	// LogWriter is where a default text logger writes when Logger is nil.
	// Nil too means no log at all.
	LogWriter io.Writer
	// SendQueue bounds each peer's send queue (frames); a full queue drops.
	SendQueue int
	// EventQueue bounds the event loop's channel; producers (network
	// readers, timers, calls) wait for room, the loop itself never does.
	EventQueue int
	// MaxFrameBytes bounds one frame's payload, in and out. An inbound
	// frame over it closes the connection; an outbound one is dropped.
	MaxFrameBytes int
	// DialTimeout bounds one connection attempt: the TCP connect, the TLS
	// handshake if any and the peer handshake, together. It also bounds
	// how long an inbound connection may take over its handshakes before
	// it is refused.
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the jittered exponential delay
	// between connection attempts to a peer.
	BackoffMin, BackoffMax time.Duration
	// FlushTimeout bounds how long Stop spends writing frames still queued.
	FlushTimeout time.Duration

	// Token is the cluster's shared secret, at most MaxTokenBytes long: the
	// peer handshake proves with HMAC-SHA256 that each side of a new
	// connection holds it. Empty means no authentication: the handshake
	// still runs (keyed with the empty string), so a connection that names
	// an unknown node or the wrong destination is still refused, but anyone
	// who can reach the port can speak for any peer. Empty is meant for
	// tests and closed networks; a command-line front end should always set
	// one. The Host keeps its own copy.
	Token []byte
	// ServerTLS, if set, makes every inbound connection a TLS server
	// connection with this configuration (it must hold a certificate); the
	// peer handshake then runs inside TLS. Nil means plain TCP. The Host
	// keeps its own clone.
	ServerTLS *tls.Config
	// ClientTLS, if set, makes every outbound connection a TLS client
	// connection with this configuration. If its ServerName is empty, each
	// peer's is the host part of its address in Peers. Nil means plain TCP.
	// The Host keeps its own clone.
	ClientTLS *tls.Config
}

// settings is a validated Config with defaults filled in.
type settings struct {
	Config
	ids    []nodes.NodeID // every node, sorted
	listen string
	logger *slog.Logger
}

// validate checks cfg and fills in defaults. Every error names the field and
// the offending value.
func (cfg Config) validate() (*settings, error) {
	s := &settings{Config: cfg}
	s.Peers = maps.Clone(cfg.Peers) // our own copy: the caller may reuse theirs
	if err := cfg.ID.Validate(); err != nil {
		return nil, fmt.Errorf("runtime config: id: %w", err)
	}
	if len(cfg.Peers) == 0 {
		return nil, fmt.Errorf("runtime config: peers: empty (need at least node %q)", cfg.ID)
	}
	if _, ok := cfg.Peers[cfg.ID]; !ok {
		return nil, fmt.Errorf("runtime config: id: %q is not in peers", cfg.ID)
	}
	for id, addr := range cfg.Peers {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("runtime config: peers: %w", err)
		}
		if id == cfg.ID && addr == "" {
			s.ids = append(s.ids, id)
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("runtime config: peers[%s]: address %q: %w", id, addr, err)
		}
		s.ids = append(s.ids, id)
	}
	slices.Sort(s.ids)
	if cfg.Dir == "" {
		return nil, fmt.Errorf("runtime config: dir: empty")
	}
	if cfg.Factory == nil {
		return nil, fmt.Errorf("runtime config: factory: nil")
	}
	s.listen = cfg.Listen
	if s.listen == "" {
		s.listen = cfg.Peers[cfg.ID]
	}
	if s.listen == "" {
		s.listen = DefaultListen
	}
	if cfg.Listener == nil {
		if _, _, err := net.SplitHostPort(s.listen); err != nil {
			return nil, fmt.Errorf("runtime config: listen: address %q: %w", s.listen, err)
		}
	}
	if err := defaultInt(&s.SendQueue, DefaultSendQueue, "send_queue", maxQueue); err != nil {
		return nil, err
	}
	if err := defaultInt(&s.EventQueue, DefaultEventQueue, "event_queue", maxQueue); err != nil {
		return nil, err
	}
	if err := defaultInt(&s.MaxFrameBytes, wire.DefaultMaxFrameBytes, "max_frame_bytes", 1<<30); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&s.DialTimeout, DefaultDialTimeout, "dial_timeout"},
		{&s.BackoffMin, DefaultBackoffMin, "backoff_min"},
		{&s.BackoffMax, DefaultBackoffMax, "backoff_max"},
		{&s.FlushTimeout, DefaultFlushTimeout, "flush_timeout"},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("runtime config: %s: %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if s.BackoffMin > s.BackoffMax {
		return nil, fmt.Errorf("runtime config: backoff_min: %v exceeds backoff_max %v", s.BackoffMin, s.BackoffMax)
	}
	if len(cfg.Token) > MaxTokenBytes {
		return nil, fmt.Errorf("runtime config: token: %d bytes exceeds the limit of %d", len(cfg.Token), MaxTokenBytes)
	}
	s.Token = bytes.Clone(cfg.Token)
	if cfg.ServerTLS != nil {
		if len(cfg.ServerTLS.Certificates) == 0 && cfg.ServerTLS.GetCertificate == nil && cfg.ServerTLS.GetConfigForClient == nil {
			return nil, fmt.Errorf("runtime config: server_tls: no certificate (set Certificates, GetCertificate or GetConfigForClient)")
		}
		s.ServerTLS = cfg.ServerTLS.Clone()
	}
	if cfg.ClientTLS != nil {
		s.ClientTLS = cfg.ClientTLS.Clone()
	}
	s.logger = cfg.Logger
	if s.logger == nil {
		if cfg.LogWriter != nil {
			s.logger = slog.New(slog.NewTextHandler(cfg.LogWriter, nil))
		} else {
			s.logger = slog.New(slog.DiscardHandler)
		}
	}
	s.logger = s.logger.With("node", string(cfg.ID))
	return s, nil
}

// defaultInt replaces a zero *v by def and rejects values outside [1, max].
func defaultInt(v *int, def int, name string, max int) error {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > max {
		return fmt.Errorf("runtime config: %s: %d outside [1, %d]", name, *v, max)
	}
	return nil
}
