// Package cluster describes a real distsync cluster: the cluster file that
// lists its nodes (ids, peer and HTTP addresses, data directories, the
// services each runs) and the settings of those services, and it builds
// the node a process runs from it. The same node code runs in the
// simulator; here it runs on nodes/runtime over TCP.
package cluster

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
)

// Service names, as they appear in a cluster file.
const (
	ServiceLocks  = "locks"
	ServiceQueues = "queues"
	ServiceCaches = "caches"
)

// Services lists every service a node may run, in the order a composite
// node hosts them.
var Services = []string{ServiceLocks, ServiceQueues, ServiceCaches}

// Limits on a cluster file.
const (
	// MaxFileBytes bounds a cluster file.
	MaxFileBytes = 1 << 20
	// MaxNodes bounds the nodes of one cluster.
	MaxNodes = 256
	// MinTokenBytes is the shortest cluster token accepted (decoded).
	MinTokenBytes = 16
	// MaxTokenBytes is the longest.
	MaxTokenBytes = 1024
)

// File is a cluster file.
type File struct {
	// Name names the cluster (in logs and the status endpoint).
	Name string `yaml:"name"`
	// Token is the shared cluster secret, hex-encoded, that peers prove
	// with an HMAC on every connection; TokenFile names a file holding it
	// instead (relative to the cluster file). Exactly one is required.
	Token     string `yaml:"token,omitempty"`
	TokenFile string `yaml:"token_file,omitempty"`
	// TLS, if set, encrypts client (HTTP) and peer traffic.
	TLS *TLS `yaml:"tls,omitempty"`
	// Locks, Queues and Caches configure the services for every node that
	// runs them.
	Locks  LocksSettings  `yaml:"locks,omitempty"`
	Queues QueuesSettings `yaml:"queues,omitempty"`
	Caches CachesSettings `yaml:"caches,omitempty"`
	// Nodes lists the cluster's nodes.
	Nodes []Node `yaml:"nodes"`

	// Dir is the directory of the cluster file: relative paths in it are
	// relative to Dir. Set by Load.
	Dir string `yaml:"-"`
}

// TLS names the certificate files of a TLS-enabled cluster (PEM).
type TLS struct {
	// Cert and Key are this cluster's certificate and private key, used by
	// every node for its HTTP and peer listeners and as its client
	// certificate towards peers.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// CA is the certificate authority peers and clients trust.
	CA string `yaml:"ca"`
}

// Node is one node of a cluster file.
type Node struct {
	// ID is the node's id ("n1").
	ID nodes.NodeID `yaml:"id"`
	// Peer is the address peers connect to ("127.0.0.1:7001").
	Peer string `yaml:"peer"`
	// HTTP is the address of the node's HTTP API ("127.0.0.1:8001").
	HTTP string `yaml:"http"`
	// Admin, if set, is the loopback address of the fault-injection
	// endpoint, served only when the node starts with
	// --enable-fault-injection.
	Admin string `yaml:"admin,omitempty"`
	// Dir is the node's data directory (relative to the cluster file).
	Dir string `yaml:"dir"`
	// Services are the services the node runs (default: all).
	Services []string `yaml:"services,omitempty"`
}

// LocksSettings configure the lock service.
type LocksSettings struct {
	// Tick is one Raft tick (default 10ms).
	Tick Duration `yaml:"tick,omitempty"`
	// SessionTTL is the TTL of sessions the HTTP API opens (default 10s).
	SessionTTL Duration `yaml:"session_ttl,omitempty"`
}

// QueuesSettings configure the queue service.
type QueuesSettings struct {
	// Replicas is each queue's Raft group size (default 3).
	Replicas int `yaml:"replicas,omitempty"`
	// Tick is one Raft tick (default 10ms).
	Tick Duration `yaml:"tick,omitempty"`
}

// CachesSettings configure the cache service.
type CachesSettings struct {
	// Protocol is "directory" (default) or "broadcast" (the original
	// design, which is racy: see README).
	Protocol string `yaml:"protocol,omitempty"`
	// WritePolicy is "write-back" (default) or "write-through".
	WritePolicy string `yaml:"write_policy,omitempty"`
	// Capacity is the number of lines each node caches (default 1024).
	Capacity int `yaml:"capacity,omitempty"`
	// MaxValueBytes bounds a value (default 1 MiB).
	MaxValueBytes int `yaml:"max_value_bytes,omitempty"`
}

// Duration is a time.Duration written as "10ms" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads and validates a cluster file.
func Load(path string) (*File, error) {
	data, err := readLimited(path, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	f.Dir = filepath.Dir(path)
	return f, nil
}

// Parse decodes and validates a cluster file strictly: unknown fields, a
// second document and impossible values are errors naming the field.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("cluster file %s: over the size limit of %d bytes", name, MaxFileBytes)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("cluster file %s: %w", name, err)
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("cluster file %s: more than one YAML document", name)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("cluster file %s: %w", name, err)
	}
	return &f, nil
}

// validate checks f and fills defaults; errors name the field.
func (f *File) validate() error {
	if (f.Token == "") == (f.TokenFile == "") {
		return errors.New("token, token_file: exactly one is required")
	}
	if f.Token != "" {
		if err := checkToken(f.Token); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	if f.TLS != nil && (f.TLS.Cert == "" || f.TLS.Key == "" || f.TLS.CA == "") {
		return errors.New("tls: cert, key and ca are all required")
	}
	if len(f.Nodes) == 0 || len(f.Nodes) > MaxNodes {
		return fmt.Errorf("nodes: %d listed, want 1..%d", len(f.Nodes), MaxNodes)
	}
	seen := map[string]string{}
	for i := range f.Nodes {
		if err := f.Nodes[i].validate(seen); err != nil {
			return fmt.Errorf("nodes[%d]: %w", i, err)
		}
	}
	return f.settings()
}

func (n *Node) validate(seen map[string]string) error {
	if err := n.ID.Validate(); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	for _, a := range []struct{ field, addr string }{{"peer", n.Peer}, {"http", n.HTTP}, {"admin", n.Admin}} {
		if a.addr == "" && a.field == "admin" {
			continue
		}
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("%s: address %q: %w", a.field, a.addr, err)
		}
		if a.field == "admin" && !isLoopback(host) {
			return fmt.Errorf("admin: address %q is not a loopback address", a.addr)
		}
		if prev, dup := seen[a.addr]; dup {
			return fmt.Errorf("%s: address %q already used by %s", a.field, a.addr, prev)
		}
		seen[a.addr] = string(n.ID) + "." + a.field
	}
	if prev, dup := seen["id:"+string(n.ID)]; dup {
		return fmt.Errorf("id: %q listed twice (%s)", n.ID, prev)
	}
	seen["id:"+string(n.ID)] = string(n.ID)
	if n.Dir == "" {
		return errors.New("dir: empty")
	}
	if len(n.Services) == 0 {
		n.Services = slices.Clone(Services)
	}
	for _, s := range n.Services {
		if !slices.Contains(Services, s) {
			return fmt.Errorf("services: %q unknown (want %s)", s, strings.Join(Services, ", "))
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(n.Services)))) != len(n.Services) {
		return fmt.Errorf("services: %v lists a service twice", n.Services)
	}
	return nil
}

// settings checks the service settings and fills their defaults.
func (f *File) settings() error {
	if f.Locks.Tick < 0 || f.Queues.Tick < 0 || f.Locks.SessionTTL < 0 {
		return errors.New("locks.tick, locks.session_ttl, queues.tick: must not be negative")
	}
	if f.Locks.SessionTTL == 0 {
		f.Locks.SessionTTL = Duration(10 * time.Second)
	}
	if f.Queues.Replicas < 0 || f.Queues.Replicas > 7 {
		return fmt.Errorf("queues.replicas: %d outside [1, 7]", f.Queues.Replicas)
	}
	c := &f.Caches
	switch c.Protocol {
	case "":
		c.Protocol = caches.ProtocolDirectory
	case caches.ProtocolDirectory:
	case caches.ProtocolBroadcast:
		return errors.New("caches.protocol: broadcast needs a memory node, which TCP mode does not run; use directory")
	default:
		return fmt.Errorf("caches.protocol: %q unknown (want directory)", c.Protocol)
	}
	switch c.WritePolicy {
	case "":
		c.WritePolicy = "write-back"
	case "write-back", "write-through":
	default:
		return fmt.Errorf("caches.write_policy: %q unknown (want write-back or write-through)", c.WritePolicy)
	}
	if c.Capacity == 0 {
		c.Capacity = 1024
	}
	if c.Capacity < 1 || c.Capacity > caches.MaxCapacity {
		return fmt.Errorf("caches.capacity: %d outside [1, %d]", c.Capacity, caches.MaxCapacity)
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = caches.DefaultMaxValueBytes
	}
	if c.MaxValueBytes < 1 || c.MaxValueBytes > caches.MaxValueBytesLimit {
		return fmt.Errorf("caches.max_value_bytes: %d outside [1, %d]", c.MaxValueBytes, caches.MaxValueBytesLimit)
	}
	return nil
}

// checkToken checks a hex-encoded token.
func checkToken(tok string) error {
	b, err := hex.DecodeString(strings.TrimSpace(tok))
	if err != nil {
		return fmt.Errorf("not hex: %w", err)
	}
	if len(b) < MinTokenBytes || len(b) > MaxTokenBytes {
		return fmt.Errorf("%d bytes, want %d..%d", len(b), MinTokenBytes, MaxTokenBytes)
	}
	return nil
}

// Secret returns the decoded cluster token, read from TokenFile if set.
func (f *File) Secret() ([]byte, error) {
	tok := f.Token
	if f.TokenFile != "" {
		b, err := readLimited(f.path(f.TokenFile), 4*MaxTokenBytes)
		if err != nil {
			return nil, fmt.Errorf("token_file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
		if err := checkToken(tok); err != nil {
			return nil, fmt.Errorf("token_file %s: %w", f.TokenFile, err)
		}
	}
	return hex.DecodeString(tok)
}

// Node returns the node with the given id.
func (f *File) Node(id nodes.NodeID) (*Node, error) {
	for i := range f.Nodes {
		if f.Nodes[i].ID == id {
			return &f.Nodes[i], nil
		}
	}
	ids := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		ids[i] = string(n.ID)
	}
	return nil, fmt.Errorf("cluster: node %q is not in the cluster file (nodes: %s)", id, strings.Join(ids, ", "))
}

// Running returns the ids of the nodes that run service, sorted.
func (f *File) Running(service string) []nodes.NodeID {
	var ids []nodes.NodeID
	for _, n := range f.Nodes {
		if slices.Contains(n.Services, service) {
			ids = append(ids, n.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// DataDir returns node n's data directory, resolved against the cluster
// file's directory.
func (f *File) DataDir(n *Node) string { return f.path(n.Dir) }

// path resolves p against the cluster file's directory.
func (f *File) path(p string) string {
	if filepath.IsAbs(p) || f.Dir == "" {
		return p
	}
	return filepath.Join(f.Dir, p)
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, over the limit of %d", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}

// isLoopback reports whether host is a loopback IP or "localhost".
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
