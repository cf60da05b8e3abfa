package raft

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// runUntilLeader ticks until some live node leads, within maxTicks.
func (nw *network) runUntilLeader(maxTicks int) NodeID {
	nw.t.Helper()
	for range maxTicks {
		nw.tickAll()
		nw.stabilize()
		if l := nw.leader(); l != "" {
			return l
		}
	}
	nw.t.Fatalf("no leader after %d ticks", maxTicks)
	return ""
}

func TestInitialElection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		preVote bool
	}{
		{"single", 1, true},
		{"three", 3, false},
		{"three-prevote", 3, true},
		{"five-prevote", 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := newNetwork(t, tc.n, func(c *Config) { c.PreVote = tc.preVote })
			lead := nw.runUntilLeader(10 * DefaultElectionTicks)
			term := nw.node(lead).Status().Term
			if term != 1 {
				t.Errorf("first leader %s elected at term %d, want 1", lead, term)
			}
			nw.run(1)
			for _, id := range nw.ids {
				st := nw.node(id).Status()
				if st.Lead != lead || st.Term != term {
					t.Errorf("%s: lead %q term %d, want %s term %d", id, st.Lead, st.Term, lead, term)
				}
				if st.Commit != 1 || nw.nodes[id].applied != 1 {
					t.Errorf("%s: commit %d applied %d, want the leader's no-op at 1", id, st.Commit, nw.nodes[id].applied)
				}
			}
		})
	}
}

func TestElectionTimeoutRandomized(t *testing.T) {
	seen := map[int]bool{}
	for seed := range uint64(200) {
		cfg := DefaultConfig("n1", []NodeID{"n1", "n2", "n3"}, rand.New(rand.NewPCG(seed, 1)))
		r, err := New(cfg, Storage{})
		if err != nil {
			t.Fatal(err)
		}
		to := r.randomizedElectionTimeout
		if to < cfg.ElectionTicks || to >= 2*cfg.ElectionTicks {
			t.Fatalf("seed %d: timeout %d outside [%d, %d)", seed, to, cfg.ElectionTicks, 2*cfg.ElectionTicks)
		}
		seen[to] = true
	}
	if len(seen) < DefaultElectionTicks/2 {
		t.Errorf("only %d distinct timeouts over 200 seeds", len(seen))
	}
	// Explicit bounds.
	cfg := DefaultConfig("n1", []NodeID{"n1"}, rand.New(rand.NewPCG(1, 1)))
	cfg.ElectionTicks, cfg.MaxElectionTicks = 10, 12
	r, err := New(cfg, Storage{})
	if err != nil {
		t.Fatal(err)
	}
	if to := r.randomizedElectionTimeout; to < 10 || to >= 12 {
		t.Errorf("timeout %d outside [10, 12)", to)
	}
}

func TestReelectionAfterLeaderCrash(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.mustPropose("n1", "a")
	nw.crash("n1")
	lead := nw.runUntilLeader(10 * DefaultElectionTicks)
	if lead == "n1" {
		t.Fatalf("crashed node still leader")
	}
	if term := nw.node(lead).Status().Term; term < 2 {
		t.Errorf("new leader %s at term %d, want > 1", lead, term)
	}
	nw.mustPropose(lead, "b")
	for _, id := range []NodeID{"n2", "n3"} {
		if got := nw.appliedData(id); strings.Join(got, ",") != "a,b" {
			t.Errorf("%s applied %v, want [a b]", id, got)
		}
	}
}

func TestNoLeaderWithoutQuorum(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		nw := newNetwork(t, 5, func(c *Config) { c.PreVote = preVote })
		nw.elect("n1")
		for _, id := range []NodeID{"n1", "n2", "n3"} {
			nw.crash(id)
		}
		nw.run(20 * DefaultElectionTicks)
		if l := nw.leader(); l != "" {
			t.Fatalf("preVote=%v: %s leads with 2 of 5 nodes", preVote, l)
		}
		for _, id := range []NodeID{"n4", "n5"} {
			term := nw.node(id).Status().Term
			if preVote && term != 1 {
				t.Errorf("preVote: %s term went to %d without a quorum, want 1", id, term)
			}
			if !preVote && term <= 1 {
				t.Errorf("no preVote: %s term %d, expected failed elections to raise it", id, term)
			}
		}
	}
}

func TestCandidateWithStaleLogLoses(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.PreVote, c.CheckQuorum = false, false })
	nw.elect("n1")
	nw.isolate("n3")
	nw.mustPropose("n1", "x")
	nw.mustPropose("n1", "y")
	nw.heal()
	// n3 misses x and y; n2 and n1 hold them, so both refuse n3.
	nw.node("n3").Campaign()
	nw.stabilize()
	if st := nw.node("n3").Status(); st.Role == RoleLeader {
		t.Fatalf("n3 with a stale log won term %d", st.Term)
	}
	if v := nw.node("n2").Status().Vote; v == "n3" {
		t.Fatalf("n2 voted for the stale candidate")
	}
	lead := nw.runUntilLeader(10 * DefaultElectionTicks)
	if lead == "n3" {
		t.Fatalf("n3 was elected with a stale log")
	}
	nw.mustPropose(lead, "z")
	if got := strings.Join(nw.appliedData("n3"), ","); got != "x,y,z" {
		t.Errorf("n3 applied %q, want x,y,z", got)
	}
}

func TestPreVoteRejoiningNodeDoesNotBumpTerm(t *testing.T) {
	for _, tc := range []struct {
		name     string
		preVote  bool
		wantBump bool
	}{
		{"prevote", true, false},
		{"no-prevote", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := newNetwork(t, 3, func(c *Config) { c.PreVote, c.CheckQuorum = tc.preVote, false })
			nw.elect("n1")
			nw.isolate("n3")
			nw.run(10 * DefaultElectionTicks)
			if term := nw.node("n3").Status().Term; tc.preVote && term != 1 {
				t.Fatalf("isolated pre-candidate raised its term to %d", term)
			}
			nw.heal()
			nw.run(3 * DefaultElectionTicks)
			term := nw.node("n1").Status().Term
			if bumped := term > 1; bumped != tc.wantBump {
				t.Errorf("term after rejoin %d: bumped=%v, want %v", term, bumped, tc.wantBump)
			}
			if !tc.wantBump && nw.leader() != "n1" {
				t.Errorf("leader changed to %q after a PreVote rejoin", nw.leader())
			}
		})
	}
}

func TestCheckQuorumLeaderStepsDown(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.isolate("n1")
	// The followers answered within the first window, so the first check
	// passes; the second, at most two election timeouts later, fails.
	steppedDown := 0
	for tick := 1; tick <= 3*DefaultElectionTicks && steppedDown == 0; tick++ {
		nw.tickAll()
		nw.stabilize()
		if nw.node("n1").Status().Role != RoleLeader {
			steppedDown = tick
		}
	}
	if steppedDown < DefaultElectionTicks || steppedDown > 2*DefaultElectionTicks {
		t.Fatalf("isolated leader stepped down after %d ticks, want within [%d, %d]", steppedDown, DefaultElectionTicks, 2*DefaultElectionTicks)
	}
	if err := nw.node("n1").Propose([]byte("x")); !errors.Is(err, ErrProposalDropped) {
		t.Errorf("propose on deposed isolated leader: %v, want ErrProposalDropped", err)
	}
	// Without CheckQuorum an isolated leader never notices.
	nw = newNetwork(t, 3, func(c *Config) { c.CheckQuorum = false })
	nw.elect("n1")
	nw.isolate("n1")
	for range 3 * DefaultElectionTicks {
		nw.node("n1").Tick()
		nw.process("n1")
	}
	if nw.node("n1").Status().Role != RoleLeader {
		t.Errorf("leader without CheckQuorum stepped down")
	}
}

func TestLeaderStickiness(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.PreVote = false })
	nw.elect("n1")
	nw.run(1)
	// n3 campaigns without cause: n2 heard from n1 within the election
	// timeout and ignores it, so its term does not move and it grants no
	// vote.
	nw.node("n3").Campaign()
	nw.process("n3")
	for len(nw.queue) > 0 {
		m := nw.queue[0]
		if m.Type == MsgVote && m.To == "n2" {
			nw.deliverAt(0)
			if st := nw.node("n2").Status(); st.Term != 1 || st.Vote == "n3" {
				t.Fatalf("n2 reacted to a vote request within its lease: term %d vote %q", st.Term, st.Vote)
			}
			continue
		}
		nw.deliverAt(0)
	}
	if nw.node("n3").Status().Role == RoleLeader {
		t.Fatalf("n3 won against a sticky cluster")
	}
}

func TestConfigValidation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	peers := []NodeID{"a", "b", "c"}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"zero election", func(c *Config) { c.ElectionTicks = 0 }, "ElectionTicks 0"},
		{"zero heartbeat", func(c *Config) { c.HeartbeatTicks = 0 }, "HeartbeatTicks 0"},
		{"heartbeat >= election", func(c *Config) { c.HeartbeatTicks = 15 }, "HeartbeatTicks 15 must be less than ElectionTicks 15"},
		{"max election too low", func(c *Config) { c.MaxElectionTicks = 15 }, "MaxElectionTicks 15"},
		{"self not in peers", func(c *Config) { c.ID = "z" }, `ID "z" is not in Peers`},
		{"duplicate peer", func(c *Config) { c.Peers = []NodeID{"a", "b", "a"} }, `Peers[2] "a" is a duplicate`},
		{"empty peer", func(c *Config) { c.Peers = []NodeID{"a", ""} }, "Peers[1]"},
		{"no rand", func(c *Config) { c.Rand = nil }, "Rand is nil"},
		{"lease without check quorum", func(c *Config) { c.ReadOnly, c.CheckQuorum = ReadOnlyLeaseBased, false }, "requires CheckQuorum"},
		{"zero msg size", func(c *Config) { c.MaxSizePerMsg = 0 }, "MaxSizePerMsg 0"},
		{"zero inflight", func(c *Config) { c.MaxInflightMsgs = 0 }, "MaxInflightMsgs 0"},
		{"inflight bytes", func(c *Config) { c.MaxInflightBytes = 1 }, "MaxInflightBytes 1"},
		{"uncommitted", func(c *Config) { c.MaxUncommittedBytes = 0 }, "MaxUncommittedBytes 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig("a", peers, rng)
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v, want one containing %q wrapping ErrInvalidConfig", err, tc.want)
			}
			if _, err := New(cfg, Storage{}); err == nil {
				t.Fatalf("New accepted an invalid config")
			}
		})
	}
}
