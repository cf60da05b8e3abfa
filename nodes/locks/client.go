package locks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/lockmgr"
)

// OpKind is a client operation recorded in a history.
type OpKind uint8

// Client operations.
const (
	OpOpen OpKind = iota + 1
	OpKeepAlive
	OpAcquire
	OpRelease
)

var opKindNames = [...]string{OpOpen: "open", OpKeepAlive: "keepalive", OpAcquire: "acquire", OpRelease: "release"}

// String names the operation.
func (k OpKind) String() string {
	if int(k) < len(opKindNames) && opKindNames[k] != "" {
		return opKindNames[k]
	}
	return fmt.Sprintf("op-%d", uint8(k))
}

// Op is one client operation as the client saw it.
type Op struct {
	Client   lockmgr.ClientID
	Seq      uint64
	Kind     OpKind
	Session  lockmgr.SessionID
	Resource lockmgr.Resource
	Mode     lockmgr.Mode
	Wait     lockmgr.WaitPolicy
}

// Recorder receives a client's history: each operation's invocation and,
// if the client learns it, its completion. The simulator's harness stamps
// them with virtual time.
type Recorder interface {
	Invoke(op Op)
	Complete(op Op, res lockmgr.Result)
}

// ClientConfig configures a simulated lock client.
type ClientConfig struct {
	Servers        []nodes.NodeID
	Resources      int                // picks resources r0..r(N-1), uniformly unless Zipf is set
	Zipf           float64            // if > 1, resources follow a Zipf law of this exponent (r0 hottest)
	Shared         float64            // fraction of shared acquires
	Wait           lockmgr.WaitPolicy // how acquires wait
	Think          time.Duration      // mean pause between operations
	Hold           time.Duration      // mean time a lock is held
	TTL            time.Duration      // session TTL (keepalive every TTL/3)
	RequestTimeout time.Duration      // retry a request after this long without an answer
	Recorder       Recorder           // may be nil
}

func (c *ClientConfig) withDefaults() {
	if c.Resources <= 0 {
		c.Resources = 8
	}
	if c.Think <= 0 {
		c.Think = 20 * time.Millisecond
	}
	if c.Hold <= 0 {
		c.Hold = 20 * time.Millisecond
	}
	if c.TTL <= 0 {
		c.TTL = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 300 * time.Millisecond
	}
}

const (
	timerRetry  = "retry"
	timerNext   = "next"
	timerPoll   = "poll"
	epochFile   = "client-epoch"
	pollEvery   = 200 * time.Millisecond
	retryBackof = 20 * time.Millisecond
)

// Client is a simulated lock client: it opens a session, then acquires a
// random resource, holds it, releases it, and again, keeping its session
// alive. It retries every request with the same sequence number until it
// gets an answer, so each is applied at most once, and records what it saw.
type Client struct {
	cfg     ClientConfig
	env     nodes.Env
	id      lockmgr.ClientID
	seq     uint64
	target  int
	session lockmgr.SessionID
	cur     *Op    // the request in flight
	curCmd  []byte // its encoding, resent on retry
	retry   nodes.TimerID
	queued  uint64 // request index of a queued acquire, polled with queries
	held    lockmgr.Resource
	renewed time.Time
	queryID uint64
	// pollFloor is the first query id of the current wait: answers to
	// earlier polls (of an earlier wait) are stale and ignored.
	pollFloor uint64
	zipf      *rand.Zipf
	// Stats of what the client saw.
	Granted, Rejected, Aborted, Retries uint64
}

// NewClient returns a factory of simulated lock clients.
func NewClient(cfg ClientConfig) (nodes.Factory, error) {
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("lock client config: servers: empty")
	}
	if cfg.Zipf != 0 && !(cfg.Zipf > 1) {
		return nil, fmt.Errorf("lock client config: zipf: exponent %v must be above 1", cfg.Zipf)
	}
	if !(cfg.Shared >= 0 && cfg.Shared <= 1) {
		return nil, fmt.Errorf("lock client config: shared: %v outside [0,1]", cfg.Shared)
	}
	cfg.withDefaults()
	return func(nodes.NodeID) nodes.Node { return &Client{cfg: cfg} }, nil
}

// Start implements nodes.Node. The client persists an epoch so that its
// sequence numbers keep growing across crashes.
func (c *Client) Start(env nodes.Env) {
	c.env = env
	c.id = lockmgr.ClientID(env.ID())
	c.seq = c.nextEpoch() << 32
	c.target = env.Rand().IntN(len(c.cfg.Servers))
	c.send(lockmgr.OpenSession{TTL: c.cfg.TTL})
}

func (c *Client) nextEpoch() uint64 {
	f, err := c.env.Disk().Open(epochFile)
	if err != nil {
		panic(fmt.Sprintf("lock client %s: %v", c.env.ID(), err))
	}
	epoch := uint64(f.Size()) + 1 // one byte per start
	if _, err := f.Append([]byte{1}); err != nil {
		panic(fmt.Sprintf("lock client %s: append %s: %v", c.env.ID(), epochFile, err))
	}
	if err := f.Sync(); err != nil {
		panic(fmt.Sprintf("lock client %s: sync %s: %v", c.env.ID(), epochFile, err))
	}
	return epoch
}

// Stamp fills in a client command's identity — client, sequence number
// and session — and returns it with the Op that records it in a history.
// Other commands come back unchanged, with a zero Op.
func Stamp(cmd lockmgr.Command, client lockmgr.ClientID, seq uint64, session lockmgr.SessionID) (lockmgr.Command, Op) {
	op := Op{Client: client, Seq: seq, Session: session}
	switch x := cmd.(type) {
	case lockmgr.OpenSession:
		x.Client, x.Seq = client, seq
		op.Kind, cmd = OpOpen, x
	case lockmgr.KeepAlive:
		x.Client, x.Seq, x.Session = client, seq, session
		op.Kind, cmd = OpKeepAlive, x
	case lockmgr.Acquire:
		x.Client, x.Seq, x.Session = client, seq, session
		op.Kind, op.Resource, op.Mode, op.Wait = OpAcquire, x.Resource, x.Mode, x.Wait
		cmd = x
	case lockmgr.Release:
		x.Client, x.Seq, x.Session = client, seq, session
		op.Kind, op.Resource = OpRelease, x.Resource
		cmd = x
	}
	return cmd, op
}

// send starts a new request.
func (c *Client) send(cmd lockmgr.Command) {
	c.seq++
	cmd, op := Stamp(cmd, c.id, c.seq, c.session)
	c.cur, c.curCmd = &op, cmd.Encode()
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Invoke(op)
	}
	c.transmit()
}

func (c *Client) transmit() {
	c.env.Send(c.cfg.Servers[c.target], &Request{Cmd: c.curCmd})
	c.retry = c.env.SetTimer(c.cfg.RequestTimeout, nodes.Timer{Kind: timerRetry, Arg: c.seq})
}

// Fire implements nodes.Node.
func (c *Client) Fire(t nodes.Timer) {
	switch t.Kind {
	case timerRetry:
		if c.cur != nil && c.cur.Seq == t.Arg && c.queued == 0 {
			c.Retries++
			c.target = (c.target + 1) % len(c.cfg.Servers)
			c.transmit()
		}
	case timerNext:
		c.next()
	case timerPoll:
		if c.queued != 0 && c.cur != nil && c.cur.Seq == t.Arg {
			c.queryID++
			c.env.Send(c.cfg.Servers[c.target], &Query{Client: c.id, ID: c.queryID, Resource: c.cur.Resource})
			c.env.SetTimer(pollEvery, t)
		}
	}
}

// Receive implements nodes.Node.
func (c *Client) Receive(from nodes.NodeID, m nodes.Message) {
	switch m := m.(type) {
	case *Reply:
		c.onReply(m)
	case *Notify:
		if c.cur != nil && c.queued != 0 && m.Event.Request == c.queued {
			c.finishWait(m.Event.Kind == lockmgr.EventGranted, m.Event.Token, m.Event.Err)
		}
	case *QueryReply:
		c.onQueryReply(m)
	}
}

func (c *Client) redirect(svc nodes.ServiceError, lead nodes.NodeID) {
	if svc == nodes.ServiceNotLeader && lead != "" {
		for i, s := range c.cfg.Servers {
			if s == lead {
				c.target = i
				return
			}
		}
	}
	c.target = (c.target + 1) % len(c.cfg.Servers)
}

func (c *Client) onReply(r *Reply) {
	if c.cur == nil || r.Seq != c.cur.Seq || c.queued != 0 {
		return
	}
	if r.Service != nodes.ServiceOK {
		c.env.CancelTimer(c.retry)
		c.redirect(r.Service, r.Leader)
		c.Retries++
		c.retry = c.env.SetTimer(retryBackof, nodes.Timer{Kind: timerRetry, Arg: c.seq})
		return
	}
	c.env.CancelTimer(c.retry)
	if r.Result.Status == lockmgr.StatusQueued {
		c.queued = r.Result.Request
		c.pollFloor = c.queryID + 1
		c.env.SetTimer(pollEvery, nodes.Timer{Kind: timerPoll, Arg: c.seq})
		return
	}
	c.complete(r.Result)
}

// onQueryReply learns the end of a queued wait whose notification was
// lost: the session is a holder (granted) or no longer waits (aborted).
func (c *Client) onQueryReply(q *QueryReply) {
	if q.ID < c.pollFloor {
		return // an answer to a poll of an earlier wait
	}
	if c.queued == 0 || c.cur == nil || q.Service != nodes.ServiceOK {
		if q.Service != nodes.ServiceOK {
			c.redirect(q.Service, q.Leader)
		}
		return
	}
	for _, h := range q.Holders {
		if h.Session == c.session {
			c.finishWait(true, h.Token, nil)
			return
		}
	}
	for _, w := range q.Waiters {
		if w.Request == c.queued {
			return
		}
	}
	c.finishWait(false, 0, fmt.Errorf("wait ended without a grant"))
}

func (c *Client) finishWait(granted bool, token lockmgr.Token, err error) {
	res := lockmgr.Result{Status: lockmgr.StatusGranted, Token: token, Request: c.queued}
	if !granted {
		res = lockmgr.Result{Status: lockmgr.StatusRejected, Request: c.queued, Err: err}
	}
	c.queued = 0
	c.complete(res)
}

// complete records the answer and moves the workload on.
func (c *Client) complete(res lockmgr.Result) {
	op := *c.cur
	c.cur = nil
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Complete(op, res)
	}
	switch op.Kind {
	case OpOpen:
		if res.Status == lockmgr.StatusRejected {
			panic(fmt.Sprintf("lock client %s: open session rejected: %v", c.id, res.Err))
		}
		c.session, c.renewed = res.Session, c.env.Now()
	case OpKeepAlive:
		c.renewed = c.env.Now()
	}
	if res.Status == lockmgr.StatusRejected && (errors.Is(res.Err, lockmgr.ErrUnknownSession) || errors.Is(res.Err, lockmgr.ErrSessionExpired)) {
		// The session expired (this client was cut off for a TTL): its
		// locks are gone. Start over with a new session.
		c.held, c.session = "", 0
		c.send(lockmgr.OpenSession{TTL: c.cfg.TTL})
		return
	}
	switch op.Kind {
	case OpAcquire:
		if res.Status == lockmgr.StatusGranted {
			c.Granted++
			c.held = op.Resource
			c.env.SetTimer(c.draw(c.cfg.Hold), nodes.Timer{Kind: timerNext})
			return
		}
		c.Rejected++
	case OpRelease:
		c.held = ""
	}
	c.env.SetTimer(c.draw(c.cfg.Think), nodes.Timer{Kind: timerNext})
}

func (c *Client) draw(mean time.Duration) time.Duration {
	return time.Duration(c.env.Rand().ExpFloat64() * float64(mean))
}

// next starts the next operation: a keepalive when due, else a release of
// the held lock, else an acquire.
func (c *Client) next() {
	if c.cur != nil {
		return
	}
	switch {
	case c.env.Now().Sub(c.renewed) > c.cfg.TTL/3:
		c.send(lockmgr.KeepAlive{})
	case c.held != "":
		c.send(lockmgr.Release{Resource: c.held})
	default:
		mode := lockmgr.Exclusive
		if c.env.Rand().Float64() < c.cfg.Shared {
			mode = lockmgr.Shared
		}
		var n uint64
		if c.zipf != nil {
			n = c.zipf.Uint64()
		} else {
			n = uint64(c.env.Rand().IntN(c.cfg.Resources))
		}
		res := lockmgr.Resource(fmt.Sprintf("r%d", n))
		c.send(lockmgr.Acquire{Resource: res, Mode: mode, Wait: c.cfg.Wait})
	}
}

// Session returns the client's session (0 before it is open).
func (c *Client) Session() lockmgr.SessionID { return c.session }

// Held returns the resource the client believes it holds ("" if none).
func (c *Client) Held() lockmgr.Resource { return c.held }

// Busy reports whether the client waits for an answer.
func (c *Client) Busy() bool { return c.cur != nil }
