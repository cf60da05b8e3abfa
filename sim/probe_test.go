package sim_test

import (
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// ping is the test message: a number.
type ping struct{ N uint64 }

const typePing nodes.MessageType = 2

func (*ping) Type() nodes.MessageType  { return typePing }
func (p *ping) Encode(e *wire.Encoder) { e.Uvarint(p.N) }

func init() {
	nodes.Register(typePing, "test.ping", func(d *wire.Decoder) nodes.Message { return &ping{N: d.Uvarint()} })
}

// received is one delivery seen by a probe.
type received struct {
	from nodes.NodeID
	n    uint64
	at   time.Time
}

// probe is a scriptable test node: the script runs at Start and on every
// timer; deliveries are recorded in a log shared across incarnations.
type probe struct {
	env    nodes.Env
	log    *[]received
	script func(env nodes.Env, t nodes.Timer)
	fired  *[]nodes.Timer
}

func (p *probe) Start(env nodes.Env) {
	p.env = env
	if p.script != nil {
		p.script(env, nodes.Timer{Kind: "start"})
	}
}

func (p *probe) Receive(from nodes.NodeID, m nodes.Message) {
	*p.log = append(*p.log, received{from: from, n: m.(*ping).N, at: p.env.Now()})
}

func (p *probe) Fire(t nodes.Timer) {
	if p.fired != nil {
		*p.fired = append(*p.fired, t)
	}
	if p.script != nil {
		p.script(p.env, t)
	}
}

// probes builds a factory whose nodes share per-node logs and a script.
type probes struct {
	logs   map[nodes.NodeID]*[]received
	fired  map[nodes.NodeID]*[]nodes.Timer
	script map[nodes.NodeID]func(env nodes.Env, t nodes.Timer)
}

func newProbes() *probes {
	return &probes{
		logs:   map[nodes.NodeID]*[]received{},
		fired:  map[nodes.NodeID]*[]nodes.Timer{},
		script: map[nodes.NodeID]func(nodes.Env, nodes.Timer){},
	}
}

func (ps *probes) factory(id nodes.NodeID) nodes.Node {
	if ps.logs[id] == nil {
		ps.logs[id] = new([]received)
		ps.fired[id] = new([]nodes.Timer)
	}
	return &probe{log: ps.logs[id], fired: ps.fired[id], script: ps.script[id]}
}

func (ps *probes) got(id nodes.NodeID) []received {
	if ps.logs[id] == nil {
		return nil
	}
	return *ps.logs[id]
}

// sendEvery returns a script that sends count pings to `to`, one per
// interval, starting at Start.
func sendEvery(to nodes.NodeID, count int, interval time.Duration) func(nodes.Env, nodes.Timer) {
	return func(env nodes.Env, t nodes.Timer) {
		n := t.Arg
		if t.Kind == "start" {
			n = 0
		}
		if int(n) >= count {
			return
		}
		env.Send(to, &ping{N: n})
		env.SetTimer(interval, nodes.Timer{Kind: "send", Arg: n + 1})
	}
}
