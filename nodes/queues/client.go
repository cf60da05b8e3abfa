package queues

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/queue"
)

// OpKind is a client operation recorded in a history.
type OpKind uint8

// Client operations.
const (
	OpEnqueue OpKind = iota + 1
	OpDequeue
	OpAck
	OpNack
)

var opKindNames = [...]string{OpEnqueue: "enqueue", OpDequeue: "dequeue", OpAck: "ack", OpNack: "nack"}

// String names the operation.
func (k OpKind) String() string {
	if int(k) < len(opKindNames) && opKindNames[k] != "" {
		return opKindNames[k]
	}
	return fmt.Sprintf("op-%d", uint8(k))
}

// Op is one client operation as the client saw it.
type Op struct {
	Client  queue.ClientID
	Seq     uint64
	Kind    OpKind
	Queue   string
	Payload string // enqueue: the message's unique payload
	Receipt uint64 // ack, nack: the delivery's receipt
}

// Recorder receives a client's history: each operation's invocation and,
// if the client learns it, its result. The simulator stamps them with
// virtual time.
type Recorder interface {
	Invoke(op Op)
	Complete(op Op, res queue.Result)
}

// PoisonPrefix starts the payload of a poison message: consumers nack it
// every time, so it ends in the dead-letter queue.
const PoisonPrefix = "poison:"

// ClientConfig configures a simulated queue client. A client produces
// (enqueues) with probability Produce per operation and consumes
// (dequeues, then acks or nacks) otherwise.
type ClientConfig struct {
	Servers []nodes.NodeID // queue nodes to send requests to
	Queues  []string       // the queues it uses
	Produce float64        // probability that an operation is an enqueue
	// PayloadBytes pads every payload to at least this size (default 32).
	PayloadBytes int
	// Poison is the fraction of enqueued messages that are poison.
	Poison float64
	// DLQ is the probability that a dequeue reads a dead-letter queue
	// (whose messages are acked), so poison messages are drained too.
	DLQ float64
	// Visibility is the timeout a dequeue asks for (default 2s).
	Visibility time.Duration
	// Process is the mean time a consumer works on a message before it
	// acks it (default 5ms); above Visibility the consumer is slow and its
	// messages are redelivered to others.
	Process time.Duration
	// Think is the mean pause between operations (default 10ms).
	Think time.Duration
	// RequestTimeout: resend a request after this long without an answer
	// (default 300ms).
	RequestTimeout time.Duration
	Recorder       Recorder // may be nil
}

func (c *ClientConfig) withDefaults() {
	c.PayloadBytes = orDefault(c.PayloadBytes, 32)
	c.Visibility = orDefault(c.Visibility, 2*time.Second)
	c.Process = orDefault(c.Process, 5*time.Millisecond)
	c.Think = orDefault(c.Think, 10*time.Millisecond)
	c.RequestTimeout = orDefault(c.RequestTimeout, 300*time.Millisecond)
}

const (
	clientTimerNext    = "next"
	clientTimerRetry   = "retry"
	clientTimerProcess = "process"
	clientTimerResend  = "resend"
	clientBackoff      = 20 * time.Millisecond
)

// Client is a simulated queue client. It retries each request with the
// same sequence number until it hears an answer, so each is applied at
// most once, and records what it saw.
type Client struct {
	cfg     ClientConfig
	env     nodes.Env
	id      queue.ClientID
	seq     uint64
	target  int
	cur     *Op
	curReq  *Request
	retry   nodes.TimerID
	sent    uint64
	holding *delivery // a message being processed
	stopped bool      // no new enqueues (the drain phase)
	// Stats of what the client saw.
	Enqueued, Delivered, Acked, Nacked, AckRefused, Empty, Retries uint64
}

type delivery struct {
	queue   string
	receipt uint64
	poison  bool
}

// NewClient returns a factory of simulated queue clients, or an error
// naming the bad field.
func NewClient(cfg ClientConfig) (nodes.Factory, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("queue client config: servers: empty")
	}
	if len(cfg.Queues) == 0 {
		return nil, errors.New("queue client config: queues: empty")
	}
	for i, q := range cfg.Queues {
		if err := ValidateQueueName(fmt.Sprintf("queues[%d]", i), q); err != nil {
			return nil, fmt.Errorf("queue client config: %w", err)
		}
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"produce", cfg.Produce}, {"poison", cfg.Poison}, {"dlq", cfg.DLQ}} {
		if !(p.v >= 0 && p.v <= 1) {
			return nil, fmt.Errorf("queue client config: %s: %v outside [0,1]", p.name, p.v)
		}
	}
	cfg.withDefaults()
	return func(nodes.NodeID) nodes.Node { return &Client{cfg: cfg} }, nil
}

// StopProducing ends the client's enqueues: from now on it only consumes,
// draining the queues (the simulator calls it for the settle phase).
func (c *Client) StopProducing() { c.stopped = true }

// Start implements nodes.Node.
func (c *Client) Start(env nodes.Env) {
	c.env, c.id = env, queue.ClientID(env.ID())
	c.target = env.Rand().IntN(len(c.cfg.Servers))
	c.schedule(c.cfg.Think)
}

func (c *Client) schedule(mean time.Duration) {
	d := time.Duration(c.env.Rand().ExpFloat64() * float64(mean))
	c.env.SetTimer(d+time.Microsecond, nodes.Timer{Kind: clientTimerNext})
}

// Fire implements nodes.Node.
func (c *Client) Fire(t nodes.Timer) {
	switch t.Kind {
	case clientTimerNext:
		if c.cur == nil {
			c.next()
		}
	case clientTimerProcess:
		c.finishProcessing()
	case clientTimerRetry:
		if c.cur != nil && t.Arg == c.sent {
			c.Retries++
			c.target = (c.target + 1) % len(c.cfg.Servers)
			c.send()
		}
	case clientTimerResend:
		if c.cur != nil && t.Arg == c.sent {
			c.send()
		}
	}
}

// next starts the next operation.
func (c *Client) next() {
	rng := c.env.Rand()
	q := c.cfg.Queues[rng.IntN(len(c.cfg.Queues))]
	c.seq++
	if !c.stopped && rng.Float64() < c.cfg.Produce {
		payload := fmt.Sprintf("%s/%d/", c.id, c.seq)
		if rng.Float64() < c.cfg.Poison {
			payload = PoisonPrefix + payload
		}
		if n := c.cfg.PayloadBytes - len(payload); n > 0 {
			payload += strings.Repeat(".", n)
		}
		c.begin(&Op{Client: c.id, Seq: c.seq, Kind: OpEnqueue, Queue: q, Payload: payload},
			queue.Enqueue{Client: c.id, Seq: c.seq, Queue: q, Payload: []byte(payload)})
		return
	}
	if c.cfg.DLQ > 0 && rng.Float64() < c.cfg.DLQ {
		q += queue.DLQSuffix
	}
	c.begin(&Op{Client: c.id, Seq: c.seq, Kind: OpDequeue, Queue: q},
		queue.Dequeue{Client: c.id, Seq: c.seq, Queue: q, Visibility: c.cfg.Visibility})
}

func (c *Client) begin(op *Op, cmd queue.Command) {
	c.cur, c.curReq = op, &Request{Queue: op.Queue, Cmd: cmd.Encode()}
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Invoke(*op)
	}
	c.send()
}

func (c *Client) send() {
	c.sent++
	c.env.Send(c.cfg.Servers[c.target], c.curReq)
	c.env.CancelTimer(c.retry)
	c.retry = c.env.SetTimer(c.cfg.RequestTimeout, nodes.Timer{Kind: clientTimerRetry, Arg: c.sent})
}

// Receive implements nodes.Node.
func (c *Client) Receive(from nodes.NodeID, m nodes.Message) {
	r, ok := m.(*Reply)
	if !ok || c.cur == nil || r.Client != c.id || r.Seq != c.cur.Seq {
		return // stale: an answer to an earlier try
	}
	switch r.Service {
	case nodes.ServiceOK:
	case nodes.ServiceNotLeader:
		c.redirect(r.Leader)
		return
	case nodes.ServiceNoQuorum, nodes.ServiceBusy:
		c.backoff()
		return
	case nodes.ServiceBadRequest:
		panic(fmt.Sprintf("queue client %s: request %+v refused: %s", c.id, *c.cur, r.Detail))
	default:
		c.backoff() // a service error this client does not know: try again elsewhere
		return
	}
	if errors.Is(r.Result.Err, queue.ErrMoved) {
		c.backoff() // the queue is moving: another node has its new group
		return
	}
	c.complete(r.Result)
}

func (c *Client) redirect(to nodes.NodeID) {
	for i, id := range c.cfg.Servers {
		if id == to && to != "" {
			c.target = i
			c.env.CancelTimer(c.retry)
			c.retry = c.env.SetTimer(time.Millisecond, nodes.Timer{Kind: clientTimerResend, Arg: c.sent})
			return
		}
	}
	c.backoff()
}

func (c *Client) backoff() {
	c.env.CancelTimer(c.retry)
	c.retry = c.env.SetTimer(clientBackoff, nodes.Timer{Kind: clientTimerRetry, Arg: c.sent})
}

// complete records an answered operation and moves on.
func (c *Client) complete(res queue.Result) {
	op := *c.cur
	c.cur, c.curReq = nil, nil
	c.env.CancelTimer(c.retry)
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Complete(op, res)
	}
	switch op.Kind {
	case OpEnqueue:
		if res.Status == queue.StatusOK {
			c.Enqueued++
		}
	case OpDequeue:
		if res.Status == queue.StatusEmpty {
			c.Empty++
			break
		}
		if res.Status == queue.StatusOK && res.Gone {
			break // a retry whose delivery is over (its first answer was lost): nothing to process
		}
		if res.Status == queue.StatusOK {
			c.Delivered++
			c.holding = &delivery{queue: op.Queue, receipt: res.Receipt,
				poison: strings.HasPrefix(string(res.Payload), PoisonPrefix) && !strings.HasSuffix(op.Queue, queue.DLQSuffix)}
			d := time.Duration(c.env.Rand().ExpFloat64() * float64(c.cfg.Process))
			c.env.SetTimer(d+time.Microsecond, nodes.Timer{Kind: clientTimerProcess})
			return
		}
	case OpAck:
		if res.Status == queue.StatusOK {
			c.Acked++
		} else {
			c.AckRefused++
		}
	case OpNack:
		if res.Status == queue.StatusOK {
			c.Nacked++
		}
	}
	c.schedule(c.cfg.Think)
}

// finishProcessing acks (or, for poison, nacks) the message held.
func (c *Client) finishProcessing() {
	d := c.holding
	c.holding = nil
	if d == nil {
		return
	}
	c.seq++
	if d.poison {
		c.begin(&Op{Client: c.id, Seq: c.seq, Kind: OpNack, Queue: d.queue, Receipt: d.receipt},
			queue.Nack{Client: c.id, Seq: c.seq, Receipt: d.receipt})
		return
	}
	c.begin(&Op{Client: c.id, Seq: c.seq, Kind: OpAck, Queue: d.queue, Receipt: d.receipt},
		queue.Ack{Client: c.id, Seq: c.seq, Receipt: d.receipt})
}
