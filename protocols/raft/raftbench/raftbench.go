// Package raftbench drives a Raft cluster inside one process, with no I/O,
// to measure the consensus core alone: proposals go in at the leader,
// every Ready's messages are passed straight to their recipients, and one
// operation is one committed proposal.
//
// The driver is generic over the message type, so that any
// implementation shaped like etcd's RawNode (Tick, Step, Propose, Ready,
// Advance) can be measured through the same loop: write a Peer adapter
// for it and a Cluster routing function. NewRaftCluster is the adapter for
// distsync's own raft package; a separate module can add one for
// go.etcd.io/raft/v3 and compare like for like.
package raftbench

import (
	"errors"
	"fmt"
)

// Peer is one replica as the driver sees it.
type Peer[M any] interface {
	// Tick advances the replica's logical clock by one tick.
	Tick()
	// Step delivers a message addressed to this replica.
	Step(m M) error
	// Propose proposes one command. The driver calls it on the leader
	// only, with a fresh buffer each time.
	Propose(data []byte) error
	// Campaign makes the replica start an election now.
	Campaign()
	// IsLeader reports whether the replica currently leads.
	IsLeader() bool
	// Cycle handles at most one Ready: persists it (in memory, or not at
	// all), appends its messages to out, applies its committed entries and
	// acknowledges it. It returns the extended out, the number of
	// application commands applied (no-ops excluded) and whether there was
	// a Ready at all.
	Cycle(out []M) (msgs []M, applied int, ok bool)
}

// Cluster is a set of replicas and the routing of their messages.
type Cluster[M any] struct {
	// Peers are the replicas.
	Peers []Peer[M]
	// To returns the index in Peers of m's recipient.
	To func(m M) int
}

// Options shape the offered load.
type Options struct {
	// PayloadBytes is the size of each command.
	PayloadBytes int
	// Batch is the number of proposals made per round (one round = every
	// replica handles its Ready, then every message is delivered).
	Batch int
	// Window bounds the commands proposed and not yet committed: the
	// pipelining depth.
	Window int
}

// Result counts what a run did.
type Result struct {
	// Committed is the number of proposals committed and applied on the
	// leader.
	Committed int
	// Proposed is the number of proposals accepted.
	Proposed int
	// Dropped is the number of proposals refused (flow control).
	Dropped int
	// Rounds is the number of driver rounds.
	Rounds int
	// Messages is the number of messages delivered.
	Messages int
}

// ErrStuck reports that a run stopped making progress within its bound of
// rounds.
var ErrStuck = errors.New("raftbench: no progress")

// Elect makes peer leader campaign and runs rounds (ticking when idle)
// until it leads, within maxRounds.
func Elect[M any](c *Cluster[M], leader, maxRounds int) error {
	c.Peers[leader].Campaign()
	var queue []M
	for round := 0; round < maxRounds; round++ {
		queue = c.cycleAll(queue[:0], -1, nil)
		if len(queue) == 0 {
			if c.Peers[leader].IsLeader() {
				return nil
			}
			c.tickAll()
			continue
		}
		if err := c.deliver(queue); err != nil {
			return err
		}
	}
	return fmt.Errorf("raftbench: peer %d not elected within %d rounds: %w", leader, maxRounds, ErrStuck)
}

// Run proposes ops commands at peer leader and runs rounds until all are
// committed on the leader.
func Run[M any](c *Cluster[M], leader, ops int, opt Options) (Result, error) {
	if opt.PayloadBytes <= 0 || opt.Batch <= 0 || opt.Window <= 0 {
		return Result{}, fmt.Errorf("raftbench: options %+v: sizes must be positive", opt)
	}
	var res Result
	var queue []M
	maxRounds := 100*ops/min(opt.Batch, opt.Window) + 10000
	for res.Committed < ops {
		if res.Rounds >= maxRounds {
			return res, fmt.Errorf("raftbench: %d of %d committed after %d rounds: %w", res.Committed, ops, res.Rounds, ErrStuck)
		}
		res.Rounds++
		if !c.Peers[leader].IsLeader() {
			return res, fmt.Errorf("raftbench: peer %d lost leadership after %d commits", leader, res.Committed)
		}
		proposed := c.propose(leader, ops, opt, &res)
		queue = c.cycleAll(queue[:0], leader, &res)
		if len(queue) == 0 && !proposed {
			c.tickAll()
			continue
		}
		res.Messages += len(queue)
		if err := c.deliver(queue); err != nil {
			return res, err
		}
	}
	return res, nil
}

// propose makes up to one batch of proposals within the window.
func (c *Cluster[M]) propose(leader, ops int, opt Options, res *Result) bool {
	sent := false
	for range opt.Batch {
		if res.Proposed >= ops || res.Proposed-res.Committed >= opt.Window {
			break
		}
		if err := c.Peers[leader].Propose(make([]byte, opt.PayloadBytes)); err != nil {
			res.Dropped++
			break
		}
		res.Proposed++
		sent = true
	}
	return sent
}

// cycleAll drains every peer's Ready, collecting messages; commands
// applied on peer leader are counted in res.
func (c *Cluster[M]) cycleAll(queue []M, leader int, res *Result) []M {
	for i, p := range c.Peers {
		for range 16 {
			var applied int
			var ok bool
			queue, applied, ok = p.Cycle(queue)
			if !ok {
				break
			}
			if i == leader && res != nil {
				res.Committed += applied
			}
		}
	}
	return queue
}

func (c *Cluster[M]) deliver(queue []M) error {
	for _, m := range queue {
		if err := c.Peers[c.To(m)].Step(m); err != nil {
			return fmt.Errorf("raftbench: deliver: %w", err)
		}
	}
	return nil
}

func (c *Cluster[M]) tickAll() {
	for _, p := range c.Peers {
		p.Tick()
	}
}
