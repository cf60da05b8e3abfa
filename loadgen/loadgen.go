// Package loadgen is a closed-loop load generator for a real distsync
// cluster, over its HTTP API (package httpapi/client).
//
// Run starts Config.Clients goroutines, each sending one request after
// the other for Config.Duration, and measures every operation:
//
//   - locks: each client opens a session once, then acquires a random
//     resource of Config.Resources (exclusive, waiting up to Config.Wait)
//     and releases it; one operation is the acquire and the release
//     ("acquire+release"), and both are also counted on their own.
//     Sessions are renewed every third of their TTL and closed at the end.
//   - queue: Clients producers enqueue Config.ValueBytes-byte messages
//     and as many consumers dequeue and ack them, over Config.Resources
//     queues.
//   - cache: gets and puts (Config.Writes of them) of keys chosen by a
//     Zipf distribution over Config.Resources keys.
//
// The Result holds, per kind of operation, the ok count, the errors by
// API code, the latency of the ok operations in a bounded log-linear
// histogram, and a timeline of each second of the run.
//
// The figures come from real processes, on a real machine: they are not
// deterministic, unlike everything the simulator measures.
package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"
)

// Services Config.Service names.
const (
	ServiceLocks = "locks"
	ServiceQueue = "queue"
	ServiceCache = "cache"
)

// Services lists the services, in the order help texts show them.
var Services = []string{ServiceLocks, ServiceQueue, ServiceCache}

// Defaults and limits of Config.
const (
	DefaultLockResources = 100
	DefaultQueues        = 4
	DefaultCacheKeys     = 1000
	DefaultValueBytes    = 128
	DefaultWait          = time.Second
	DefaultZipf          = 1.1
	// MaxClients bounds Config.Clients.
	MaxClients = 4096
	// MaxValueBytes bounds Config.ValueBytes (a queue message's limit on
	// the default node configuration is far below a cache value's).
	MaxValueBytes = 1 << 20
	// SessionTTL is the TTL of the lock clients' sessions.
	SessionTTL = 30 * time.Second
)

// Config configures a run.
type Config struct {
	// Endpoints are the nodes' HTTP base URLs.
	Endpoints []string
	// HTTPClient sends the requests (default: one whose transport keeps a
	// connection per client and node alive, with TLS).
	HTTPClient *http.Client
	// TLS is the TLS configuration of the default HTTP client (nil: none).
	TLS *tls.Config
	// Timeout and Retries configure each client (see client.Config).
	Timeout time.Duration
	Retries int
	// Service is ServiceLocks, ServiceQueue or ServiceCache.
	Service string
	// Clients is the number of concurrent clients (1..MaxClients); the
	// queue runs as many consumers besides.
	Clients int
	// Duration is how long clients start operations; those in flight at
	// the end finish.
	Duration time.Duration
	// Resources is the number of lock resources, queues or cache keys
	// (0: DefaultLockResources, DefaultQueues, DefaultCacheKeys).
	Resources int
	// ValueBytes is the size of a queue message and of a cache value
	// (0: DefaultValueBytes).
	ValueBytes int
	// Writes is the fraction of cache operations that are puts, in [0, 1].
	Writes float64
	// Wait is how long an acquire queues for its lock (0: DefaultWait).
	Wait time.Duration
	// Zipf is the exponent s > 1 of the cache's key distribution (0:
	// DefaultZipf); key k is chosen with weight 1/(1+k)^s.
	Zipf float64
	// Seed seeds the clients' choices (0: the clock).
	Seed uint64
}

// validate checks c and fills its defaults; errors name the field.
func (c *Config) validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("loadgen: endpoints: none given")
	}
	switch c.Service {
	case ServiceLocks, ServiceQueue, ServiceCache:
	default:
		return fmt.Errorf("loadgen: service: %q, want locks, queue or cache", c.Service)
	}
	switch {
	case c.Clients < 1 || c.Clients > MaxClients:
		return fmt.Errorf("loadgen: clients: %d outside [1, %d]", c.Clients, MaxClients)
	case c.Duration <= 0:
		return fmt.Errorf("loadgen: duration: %v, want a positive duration", c.Duration)
	case c.Resources < 0:
		return fmt.Errorf("loadgen: resources: %d is negative", c.Resources)
	case c.ValueBytes < 0 || c.ValueBytes > MaxValueBytes:
		return fmt.Errorf("loadgen: value_bytes: %d outside [0, %d]", c.ValueBytes, MaxValueBytes)
	case c.Writes < 0 || c.Writes > 1 || math.IsNaN(c.Writes):
		return fmt.Errorf("loadgen: writes: %v outside [0, 1]", c.Writes)
	case c.Wait < 0:
		return fmt.Errorf("loadgen: wait: %v is negative", c.Wait)
	case c.Zipf != 0 && !(c.Zipf > 1):
		return fmt.Errorf("loadgen: zipf: %v, want above 1", c.Zipf)
	}
	if c.Resources == 0 {
		c.Resources = map[string]int{ServiceLocks: DefaultLockResources, ServiceQueue: DefaultQueues, ServiceCache: DefaultCacheKeys}[c.Service]
	}
	if c.ValueBytes == 0 {
		c.ValueBytes = DefaultValueBytes
	}
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.Zipf == 0 {
		c.Zipf = DefaultZipf
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return nil
}

// ResultVersion is the version of Result's JSON.
const ResultVersion = 1

// Result is what a run measured.
type Result struct {
	Version int    `json:"version"` // ResultVersion
	Service string `json:"service"` // Config.Service
	Clients int    `json:"clients"` // Config.Clients
	// Consumers is the number of queue consumers (0 for other services).
	Consumers  int      `json:"consumers,omitempty"`
	Endpoints  []string `json:"endpoints"`             // Config.Endpoints
	Resources  int      `json:"resources"`             // Config.Resources, default filled in
	ValueBytes int      `json:"value_bytes,omitempty"` // queue and cache: Config.ValueBytes
	Writes     float64  `json:"writes,omitempty"`      // cache: Config.Writes
	Wait       Duration `json:"wait,omitempty"`        // locks: Config.Wait
	Seed       uint64   `json:"seed"`                  // Config.Seed, the clock's if 0
	// Started is when the measured window began (after the setup:
	// sessions opened).
	Started time.Time `json:"started"`
	// Duration is the configured length; Elapsed is the measured window,
	// from the start until the last operation in flight ended.
	Duration Duration `json:"duration"`
	Elapsed  Duration `json:"elapsed"`
	// Ops are the kinds of operations, the main one first.
	Ops []*OpStats `json:"ops"`
}

// Duration is a time.Duration written as a string in JSON ("1.5s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// OpStats is one kind of operation ("acquire+release", "enqueue", "get").
type OpStats struct {
	Kind string `json:"kind"` // one of the Kind constants
	// OK counts the operations that succeeded; Misses counts those of
	// them that found nothing (an empty dequeue, a get of a key never
	// written or deleted).
	OK     int64 `json:"ok"`
	Misses int64 `json:"misses,omitempty"`
	// Errors counts the failed operations by code (the API's error code,
	// "unreachable" for no answer: see client.Code).
	Errors map[string]int64 `json:"errors,omitempty"`
	// Latency is the latency of the ok operations.
	Latency *Histogram `json:"latency"`
	// Timeline has an entry per second of the run, by completion time.
	Timeline []Second `json:"timeline"`
}

// Second is what one second of the run saw of a kind of operation.
type Second struct {
	// At is the second's start, from the start of the run.
	At     int   `json:"at_s"`
	OK     int64 `json:"ok"`     // operations that ended ok in this second
	Errors int64 `json:"errors"` // operations that failed in this second
	// P50, P99 and Max are the latencies of the ok operations that
	// ended in this second (0 if none).
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// ErrorCount sums Errors.
func (o *OpStats) ErrorCount() int64 {
	var n int64
	for _, c := range o.Errors {
		n += c
	}
	return n
}

// PerSecond is OK per second of the window elapsed.
func (o *OpStats) PerSecond(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(o.OK) / elapsed.Seconds()
}

// Op returns the stats of a kind (nil if the run had none).
func (r *Result) Op(kind string) *OpStats {
	for _, o := range r.Ops {
		if o.Kind == kind {
			return o
		}
	}
	return nil
}

// Run runs the load described by cfg and returns what it measured. It
// returns an error for a bad Config, or when the setup fails (a lock
// client cannot open its session). Cancelling ctx ends the run early:
// operations cut short are not counted, and the Result covers what ran.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 0
		tr.MaxIdleConnsPerHost = 2*cfg.Clients + 8
		tr.TLSClientConfig = cfg.TLS
		hc = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	gen, err := newGenerator(cfg, hc)
	if err != nil {
		return nil, err
	}
	if err := gen.setup(ctx); err != nil {
		gen.teardown()
		return nil, err
	}
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, w := range gen.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.rec.start = start
			w.loop(ctx, end)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	gen.teardown()
	return gen.result(start, elapsed), nil
}
