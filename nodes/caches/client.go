package caches

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
)

// Op is one client operation as the client saw it.
type Op struct {
	Client string
	Req    uint64
	Kind   OpKind
	Key    string
	Value  string // put: the unique value "<client>/<req>", padded with '.'
}

// Recorder receives a client's history: each operation's invocation and,
// once the client learns it, its reply.
type Recorder interface {
	Invoke(op Op)
	Complete(op Op, r Reply)
}

// ClientConfig configures a simulated cache client. The client runs one
// operation at a time; each goes to a server picked at random among
// Servers, and every retry of it to that same server.
type ClientConfig struct {
	// Servers are the cache nodes the client may use.
	Servers []nodes.NodeID
	// Keys is the number of keys, "k0" to "k<Keys-1>" (default 16).
	Keys int
	// Zipf above 1 makes key popularity Zipfian with that exponent, k0
	// hottest; otherwise keys are uniform.
	Zipf float64
	// Writes is the fraction of puts, in [0,1].
	Writes float64
	// ValueBytes pads every put's value to at least this size (default 16).
	ValueBytes int
	// Think is the mean pause between operations (default 10ms).
	Think time.Duration
	// RequestTimeout: resend a request after this long without an answer
	// (default 300ms).
	RequestTimeout time.Duration
	// Recorder, if not nil, receives the history.
	Recorder Recorder
}

const (
	clientTimerNext  = "next"
	clientTimerRetry = "retry"
	clientBackoff    = 20 * time.Millisecond
	maxClientKeys    = 1 << 20
)

// Client is a simulated cache client.
type Client struct {
	cfg    ClientConfig
	env    nodes.Env
	id     string
	zipf   *rand.Zipf
	req    uint64
	target nodes.NodeID
	cur    *Op
	msg    *Request
	sent   uint64
	retry  nodes.TimerID
	// stopped: no new operations (the drain phase of a test).
	stopped bool
	// Counters of what the client saw.
	Invoked, Completed, Retries, Busy, Refused uint64
}

// NewClient returns a factory of simulated cache clients, or an error
// naming the bad field and its value.
func NewClient(cfg ClientConfig) (nodes.Factory, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("caches client config: servers: empty")
	}
	for i, id := range cfg.Servers {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("caches client config: servers[%d]: %w", i, err)
		}
	}
	cfg.Keys = orDefault(cfg.Keys, 16)
	if cfg.Keys < 1 || cfg.Keys > maxClientKeys {
		return nil, fmt.Errorf("caches client config: keys: %d not in [1, %d]", cfg.Keys, maxClientKeys)
	}
	if !(cfg.Writes >= 0 && cfg.Writes <= 1) {
		return nil, fmt.Errorf("caches client config: writes: %v outside [0,1]", cfg.Writes)
	}
	if !(cfg.Zipf >= 0 && cfg.Zipf <= 100) {
		return nil, fmt.Errorf("caches client config: zipf: %v outside [0,100]", cfg.Zipf)
	}
	cfg.ValueBytes = orDefault(cfg.ValueBytes, 16)
	if cfg.ValueBytes < 0 || cfg.ValueBytes > MaxValueBytesLimit {
		return nil, fmt.Errorf("caches client config: value_bytes: %d not in [0, %d]", cfg.ValueBytes, MaxValueBytesLimit)
	}
	cfg.Think = orDefault(cfg.Think, 10*time.Millisecond)
	cfg.RequestTimeout = orDefault(cfg.RequestTimeout, 300*time.Millisecond)
	if cfg.Think < 0 || cfg.RequestTimeout < 0 {
		return nil, fmt.Errorf("caches client config: think %v or request_timeout %v negative", cfg.Think, cfg.RequestTimeout)
	}
	return func(nodes.NodeID) nodes.Node { return &Client{cfg: cfg} }, nil
}

// Stop ends the client's new operations; the one in progress goes on.
func (c *Client) Stop() { c.stopped = true }

// Idle reports whether no operation is in progress.
func (c *Client) Idle() bool { return c.cur == nil }

// Start implements nodes.Node.
func (c *Client) Start(env nodes.Env) {
	c.env, c.id = env, string(env.ID())
	if c.cfg.Zipf > 1 {
		c.zipf = rand.NewZipf(env.Rand(), c.cfg.Zipf, 1, uint64(c.cfg.Keys-1))
	}
	c.schedule()
}

func (c *Client) schedule() {
	d := time.Duration(c.env.Rand().ExpFloat64() * float64(c.cfg.Think))
	c.env.SetTimer(d+time.Microsecond, nodes.Timer{Kind: clientTimerNext})
}

// Fire implements nodes.Node.
func (c *Client) Fire(t nodes.Timer) {
	switch t.Kind {
	case clientTimerNext:
		if c.cur == nil && !c.stopped {
			c.next()
		}
	case clientTimerRetry:
		if c.cur != nil && t.Arg == c.sent {
			c.Retries++
			c.send()
		}
	}
}

// next starts an operation.
func (c *Client) next() {
	rng := c.env.Rand()
	k := uint64(rng.IntN(c.cfg.Keys))
	if c.zipf != nil {
		k = c.zipf.Uint64()
	}
	c.req++
	op := &Op{Client: c.id, Req: c.req, Kind: OpGet, Key: fmt.Sprintf("k%d", k)}
	if rng.Float64() < c.cfg.Writes {
		op.Kind = OpPut
		op.Value = fmt.Sprintf("%s/%d", c.id, c.req)
		if n := c.cfg.ValueBytes - len(op.Value); n > 0 {
			op.Value += strings.Repeat(".", n)
		}
	}
	c.target = c.cfg.Servers[rng.IntN(len(c.cfg.Servers))]
	c.cur = op
	c.msg = &Request{Client: c.id, Req: op.Req, Op: op.Kind, Key: op.Key}
	if op.Kind == OpPut {
		c.msg.Value = []byte(op.Value)
	}
	c.Invoked++
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Invoke(*op)
	}
	c.send()
}

func (c *Client) send() {
	c.sent++
	c.env.Send(c.target, c.msg)
	c.arm(c.cfg.RequestTimeout)
}

func (c *Client) arm(d time.Duration) {
	c.env.CancelTimer(c.retry)
	c.retry = c.env.SetTimer(d, nodes.Timer{Kind: clientTimerRetry, Arg: c.sent})
}

// Receive implements nodes.Node.
func (c *Client) Receive(from nodes.NodeID, m nodes.Message) {
	r, ok := m.(*Reply)
	if !ok || c.cur == nil || r.Client != c.id || r.Req != c.cur.Req {
		return // stale: an answer to an earlier try
	}
	switch r.Service {
	case nodes.ServiceOK:
	case nodes.ServiceBadRequest:
		c.Refused++
		c.env.Logf("caches client %s: request %d refused: %s", c.id, r.Req, r.Detail)
	default: // busy, no quorum, or unknown: back off and retry
		c.Busy++
		c.arm(clientBackoff)
		return
	}
	op := *c.cur
	c.cur, c.msg = nil, nil
	c.env.CancelTimer(c.retry)
	c.Completed++
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Complete(op, *r)
	}
	c.schedule()
}
