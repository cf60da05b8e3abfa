package scenarios

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/sim"
)

// StepKind is what one step of a Script does.
type StepKind uint8

// Script steps.
const (
	// StepOpen opens a session with Step.TTL.
	StepOpen StepKind = iota + 1
	// StepAcquire acquires Step.Resource in Step.Mode with Step.Wait. A
	// queued Acquire waits for its Notify (and resends itself every
	// Script.Poll, with the same sequence number, in case the Notify was
	// lost: the lock table answers a repeat with the wait's outcome).
	StepAcquire
	// StepRelease releases Step.Resource; with Step.IfHeld it is skipped
	// when the client does not hold it.
	StepRelease
	// StepSleep waits Step.Delay on the client's clock.
	StepSleep
	// StepUntil waits until the client's clock reads sim.Epoch+Step.At (at
	// once if it already does).
	StepUntil
	// StepQuery sends Step.Count queries (at least one) for Step.Resource,
	// one at a time: each ends with its reply or after
	// Script.RequestTimeout, then the client waits Step.Delay. Queries are
	// never retried; every one is recorded in ScriptedClient.Queries.
	StepQuery
)

var stepKindNames = [...]string{StepOpen: "open", StepAcquire: "acquire", StepRelease: "release",
	StepSleep: "sleep", StepUntil: "until", StepQuery: "query"}

// String names the step kind.
func (k StepKind) String() string {
	if int(k) < len(stepKindNames) && stepKindNames[k] != "" {
		return stepKindNames[k]
	}
	return fmt.Sprintf("step-%d", uint8(k))
}

// Step is one step of a Script.
type Step struct {
	Kind     StepKind
	Resource lockmgr.Resource
	Mode     lockmgr.Mode
	Wait     lockmgr.WaitPolicy
	TTL      time.Duration
	Delay    time.Duration
	At       time.Duration
	Count    int
	IfHeld   bool
	// Servers, if set, are the only servers this step talks to (a
	// NotLeader hint naming another server is then ignored); otherwise
	// Script.Servers.
	Servers []nodes.NodeID
}

// Script is the program of a ScriptedClient: its steps, run in order, and
// how it talks to the servers.
type Script struct {
	Steps []Step
	// Servers the client talks to (default: every server of the cluster).
	Servers []nodes.NodeID
	// RequestTimeout: a request without an answer is resent to the next
	// server after this long, with the same (client, seq) so that it is
	// applied at most once; a query is given up (default 100ms).
	RequestTimeout time.Duration
	// Backoff before resending a request that a server refused
	// (NotLeader, NoQuorum, Busy) (default 10ms).
	Backoff time.Duration
	// Poll is how often a queued Acquire is resent (default 150ms).
	Poll time.Duration
}

func (s *Script) withDefaults(servers []nodes.NodeID) {
	if len(s.Servers) == 0 {
		s.Servers = servers
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = 100 * time.Millisecond
	}
	if s.Backoff <= 0 {
		s.Backoff = 10 * time.Millisecond
	}
	if s.Poll <= 0 {
		s.Poll = 150 * time.Millisecond
	}
}

// Outcome is how one request of a ScriptedClient ended.
type Outcome struct {
	Step     int // index of the step in the script
	Op       locks.Op
	Invoked  time.Time // client's clock (sim.Epoch + virtual time unless it is skewed)
	Returned time.Time
	Result   lockmgr.Result
	// Queued: the Acquire waited. Notified: its end came by a Notify
	// (false: by a resent request answered from the lock table's cache).
	Queued, Notified bool
	Retries          int
}

// QueryOutcome is one query of a ScriptedClient.
type QueryOutcome struct {
	ID       uint64
	Server   nodes.NodeID
	Resource lockmgr.Resource
	Invoked  time.Time // client's clock
	Returned time.Time // zero if TimedOut
	TimedOut bool
	Service  nodes.ServiceError
	Holders  []lockmgr.HolderInfo
	Waiters  []lockmgr.WaiterInfo
}

const (
	scriptTimerStep    = "script-step"
	scriptTimerRetry   = "script-retry"
	scriptTimerPoll    = "script-poll"
	scriptTimerQuery   = "script-query-timeout"
	scriptTimerNextQ   = "script-query-next"
	scriptBootFile     = "scripted-boot"
	maxScriptedRetries = 10000 // explicit bound: a request resent this often fails the script
)

// ScriptedClient is a lock client node that runs a Script: node code (no
// goroutines, no wall clock, no map order reaching an output). It keeps at
// most one request or query in flight, records every request in the
// Recorder (if any) and in Outcomes, and every query in Queries. It is not
// meant to be crashed: a restarted ScriptedClient sets Err and does
// nothing.
type ScriptedClient struct {
	script  Script
	rec     locks.Recorder
	env     nodes.Env
	id      lockmgr.ClientID
	seq     uint64
	session lockmgr.SessionID
	held    map[lockmgr.Resource]lockmgr.Token
	pc      int // the step running
	target  nodes.NodeID

	// The request in flight.
	cur     *Outcome
	curCmd  []byte
	retry   nodes.TimerID
	queued  uint64 // request index of a queued Acquire
	pending bool   // a step timer is set

	// The query in flight.
	queryID   uint64
	queryLeft int
	query     *QueryOutcome
	queryT    nodes.TimerID

	// What the client saw.
	Outcomes []Outcome
	Queries  []QueryOutcome
	Done     bool  // every step ran
	Err      error // the script stopped on an error
}

// NewScriptedClient returns a factory of a ScriptedClient running script
// against servers. rec may be nil.
func NewScriptedClient(script Script, servers []nodes.NodeID, rec locks.Recorder) nodes.Factory {
	script.withDefaults(servers)
	return func(nodes.NodeID) nodes.Node { return &ScriptedClient{script: script, rec: rec} }
}

// Start implements nodes.Node.
func (c *ScriptedClient) Start(env nodes.Env) {
	c.env = env
	c.id = lockmgr.ClientID(env.ID())
	c.held = map[lockmgr.Resource]lockmgr.Token{}
	if len(c.script.Servers) == 0 {
		c.fail(fmt.Errorf("no servers to talk to"))
		return
	}
	f, err := env.Disk().Open(scriptBootFile)
	if err != nil {
		c.fail(fmt.Errorf("boot file: %w", err))
		return
	}
	if f.Size() > 0 {
		c.fail(fmt.Errorf("restarted: a scripted client does not survive a crash"))
		return
	}
	if _, err := f.Append([]byte{1}); err == nil {
		_ = f.Sync()
	}
	c.target = c.script.Servers[env.Rand().IntN(len(c.script.Servers))]
	c.run()
}

// Session returns the client's session (0 before one is open).
func (c *ScriptedClient) Session() lockmgr.SessionID { return c.session }

// Holds reports whether the client believes it holds r.
func (c *ScriptedClient) Holds(r lockmgr.Resource) bool {
	_, ok := c.held[r]
	return ok
}

// Step returns the index of the running step (len(Steps) when done).
func (c *ScriptedClient) Step() int { return c.pc }

// OutcomeOf returns the outcome of step i, if that step sent a request
// that ended.
func (c *ScriptedClient) OutcomeOf(i int) (Outcome, bool) {
	for _, o := range c.Outcomes {
		if o.Step == i {
			return o, true
		}
	}
	return Outcome{}, false
}

func (c *ScriptedClient) fail(err error) {
	if c.Err == nil {
		c.Err = fmt.Errorf("scripted client %s, step %d: %w", c.id, c.pc, err)
	}
	if c.env != nil {
		c.env.Logf("script failed: %v", c.Err)
	}
}

func (c *ScriptedClient) servers() []nodes.NodeID {
	if s := c.script.Steps[c.pc].Servers; len(s) > 0 {
		return s
	}
	return c.script.Servers
}

// aim keeps the current target if the step may talk to it, else picks the
// step's first server.
func (c *ScriptedClient) aim() {
	srv := c.servers()
	for _, s := range srv {
		if s == c.target {
			return
		}
	}
	c.target = srv[0]
}

// rotate moves to the next server of the step, or to the hinted leader
// if the step may talk to it.
func (c *ScriptedClient) rotate(hint nodes.NodeID) {
	srv := c.servers()
	if hint != "" {
		for _, s := range srv {
			if s == hint {
				c.target = s
				return
			}
		}
	}
	for i, s := range srv {
		if s == c.target {
			c.target = srv[(i+1)%len(srv)]
			return
		}
	}
	c.target = srv[0]
}

// run starts steps until one has to wait.
func (c *ScriptedClient) run() {
	for c.Err == nil && c.cur == nil && c.query == nil && !c.pending {
		if c.pc >= len(c.script.Steps) {
			c.Done = true
			return
		}
		st := c.script.Steps[c.pc]
		switch st.Kind {
		case StepOpen:
			c.send(lockmgr.OpenSession{Client: c.id, TTL: st.TTL})
		case StepAcquire:
			c.send(lockmgr.Acquire{Resource: st.Resource, Mode: st.Mode, Wait: st.Wait})
		case StepRelease:
			if st.IfHeld && !c.Holds(st.Resource) {
				c.pc++
				continue
			}
			c.send(lockmgr.Release{Resource: st.Resource})
		case StepSleep:
			c.sleep(st.Delay)
		case StepUntil:
			if d := st.At - c.env.Now().Sub(sim.Epoch); d > 0 {
				c.sleep(d)
			} else {
				c.pc++
			}
		case StepQuery:
			c.queryLeft = max(st.Count, 1)
			c.sendQuery()
		default:
			c.fail(fmt.Errorf("unknown step kind %v", st.Kind))
		}
	}
}

func (c *ScriptedClient) sleep(d time.Duration) {
	c.pending = true
	c.env.SetTimer(d, nodes.Timer{Kind: scriptTimerStep, Arg: uint64(c.pc)})
}

// send starts the request of the running step.
func (c *ScriptedClient) send(cmd lockmgr.Command) {
	c.seq++
	cmd, op := locks.Stamp(cmd, c.id, c.seq, c.session)
	c.cur = &Outcome{Step: c.pc, Op: op, Invoked: c.env.Now()}
	c.curCmd = cmd.Encode()
	c.queued = 0
	if c.rec != nil {
		c.rec.Invoke(op)
	}
	c.aim()
	c.transmit(c.script.RequestTimeout)
}

// transmit sends the request in flight and arms its retry timer.
func (c *ScriptedClient) transmit(retryAfter time.Duration) {
	c.env.Send(c.target, &locks.Request{Cmd: c.curCmd})
	c.retry = c.env.SetTimer(retryAfter, nodes.Timer{Kind: scriptTimerRetry, Arg: c.seq})
}

// Fire implements nodes.Node.
func (c *ScriptedClient) Fire(t nodes.Timer) {
	if c.Err != nil {
		return
	}
	switch t.Kind {
	case scriptTimerStep:
		if c.pending && t.Arg == uint64(c.pc) {
			c.pending = false
			c.pc++
		}
	case scriptTimerRetry:
		if c.cur == nil || c.cur.Op.Seq != t.Arg || c.queued != 0 {
			return
		}
		if c.cur.Retries++; c.cur.Retries > maxScriptedRetries {
			c.fail(fmt.Errorf("%s seq %d: no answer after %d retries", c.cur.Op.Kind, c.cur.Op.Seq, c.cur.Retries))
			return
		}
		c.rotate("")
		c.transmit(c.script.RequestTimeout)
	case scriptTimerPoll:
		if c.cur == nil || c.cur.Op.Seq != t.Arg || c.queued == 0 {
			return
		}
		c.env.Send(c.target, &locks.Request{Cmd: c.curCmd})
		c.env.SetTimer(c.script.Poll, t)
	case scriptTimerQuery:
		if c.query != nil && c.query.ID == t.Arg {
			c.query.TimedOut = true
			c.endQuery()
		}
	case scriptTimerNextQ:
		if c.pending && t.Arg == uint64(c.pc) {
			c.pending = false
			c.sendQuery()
		}
	}
	c.run()
}

// Receive implements nodes.Node.
func (c *ScriptedClient) Receive(from nodes.NodeID, m nodes.Message) {
	if c.Err != nil {
		return
	}
	switch m := m.(type) {
	case *locks.Reply:
		c.onReply(m)
	case *locks.Notify:
		ev := m.Event
		if c.cur != nil && c.queued != 0 && ev.Request == c.queued && ev.Session == c.session {
			res := lockmgr.Result{Status: lockmgr.StatusGranted, Token: ev.Token, Request: ev.Request}
			if ev.Kind != lockmgr.EventGranted {
				res = lockmgr.Result{Status: lockmgr.StatusRejected, Request: ev.Request, Err: ev.Err}
			}
			c.cur.Notified = true
			c.complete(res)
		}
	case *locks.QueryReply:
		if c.query != nil && m.ID == c.query.ID {
			c.env.CancelTimer(c.queryT)
			c.query.Returned = c.env.Now()
			c.query.Service, c.query.Holders, c.query.Waiters = m.Service, m.Holders, m.Waiters
			c.endQuery()
		}
	}
	c.run()
}

func (c *ScriptedClient) onReply(r *locks.Reply) {
	if c.cur == nil || r.Seq != c.cur.Op.Seq {
		return // an answer to an earlier request, or to a retry already answered
	}
	switch r.Service {
	case nodes.ServiceOK:
	case nodes.ServiceNotLeader, nodes.ServiceNoQuorum, nodes.ServiceBusy:
		if c.queued != 0 {
			c.rotate(r.Leader) // the next poll goes there
			return
		}
		c.env.CancelTimer(c.retry)
		c.rotate(r.Leader)
		c.cur.Retries++
		c.retry = c.env.SetTimer(c.script.Backoff, nodes.Timer{Kind: scriptTimerRetry, Arg: c.seq})
		return
	default:
		c.fail(fmt.Errorf("%s seq %d: %s: %s", c.cur.Op.Kind, r.Seq, r.Service, r.Detail))
		return
	}
	if r.Result.Status == lockmgr.StatusQueued {
		if c.queued == 0 {
			c.env.CancelTimer(c.retry)
			c.queued = r.Result.Request
			c.cur.Queued = true
			c.env.SetTimer(c.script.Poll, nodes.Timer{Kind: scriptTimerPoll, Arg: c.seq})
		}
		return
	}
	c.env.CancelTimer(c.retry)
	c.complete(r.Result)
}

// complete ends the request in flight with res and moves to the next step.
func (c *ScriptedClient) complete(res lockmgr.Result) {
	o := c.cur
	c.cur, c.queued = nil, 0
	o.Returned, o.Result = c.env.Now(), res
	c.Outcomes = append(c.Outcomes, *o)
	if c.rec != nil {
		c.rec.Complete(o.Op, res)
	}
	switch o.Op.Kind {
	case locks.OpOpen:
		if res.Status == lockmgr.StatusRejected {
			c.fail(fmt.Errorf("open session: %w", res.Err))
			return
		}
		c.session = res.Session
	case locks.OpAcquire:
		if res.Status == lockmgr.StatusGranted {
			c.held[o.Op.Resource] = res.Token
		}
	case locks.OpRelease:
		if res.Status == lockmgr.StatusOK {
			delete(c.held, o.Op.Resource)
		}
	}
	c.pc++
}

func (c *ScriptedClient) sendQuery() {
	c.aim()
	c.queryID++
	st := c.script.Steps[c.pc]
	c.query = &QueryOutcome{ID: c.queryID, Server: c.target, Resource: st.Resource, Invoked: c.env.Now()}
	c.env.Send(c.target, &locks.Query{Client: c.id, ID: c.queryID, Resource: st.Resource})
	c.queryT = c.env.SetTimer(c.script.RequestTimeout, nodes.Timer{Kind: scriptTimerQuery, Arg: c.queryID})
}

// endQuery records the query in flight and starts the next one (after the
// step's delay) or ends the step.
func (c *ScriptedClient) endQuery() {
	c.Queries = append(c.Queries, *c.query)
	c.query = nil
	c.queryLeft--
	st := c.script.Steps[c.pc]
	if c.queryLeft <= 0 {
		c.pc++
		return
	}
	if st.Delay > 0 {
		c.pending = true
		c.env.SetTimer(st.Delay, nodes.Timer{Kind: scriptTimerNextQ, Arg: uint64(c.pc)})
		return
	}
	c.sendQuery()
}
