package lockmgr

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// gen draws random but plausible command sequences over a small universe
// (4 clients, 4 resources), so that contention, queues, deadlocks,
// retries and bad inputs are all frequent.
type gen struct {
	m        *Manager // the table the commands go to, to pick live ids
	seq      map[ClientID]uint64
	sent     []Command // client commands sent, for retries
	sessions []SessionID
}

var (
	genClients   = []ClientID{"c0", "c1", "c2", "c3"}
	genResources = []Resource{"r0", "r1", "r2", "r3"}
)

func (g *gen) client(t *rapid.T) ClientID { return rapid.SampledFrom(genClients).Draw(t, "client") }

// session picks a session id: usually a live one, sometimes one that was
// opened and is gone, or a bogus one.
func (g *gen) session(t *rapid.T) SessionID {
	live := g.m.Sessions()
	switch k := rapid.IntRange(0, 19).Draw(t, "which-session"); {
	case k < 17 && len(live) > 0:
		return rapid.SampledFrom(live).Draw(t, "live").ID
	case k < 19 && len(g.sessions) > 0:
		return rapid.SampledFrom(g.sessions).Draw(t, "session")
	}
	return SessionID(rapid.Uint64Range(0, 3).Draw(t, "bogus-session"))
}

// owned returns a session and, usually, its client.
func (g *gen) owned(t *rapid.T) (ClientID, SessionID) {
	sid := g.session(t)
	if info, ok := g.m.Session(sid); ok && rapid.IntRange(0, 19).Draw(t, "foreign") > 0 {
		return info.Client, sid
	}
	return g.client(t), sid
}

func (g *gen) nextSeq(t *rapid.T, c ClientID) uint64 {
	switch rapid.IntRange(0, 19).Draw(t, "seq-kind") {
	case 0:
		return g.seq[c] // a duplicate
	case 1:
		return rapid.Uint64Range(0, g.seq[c]+1).Draw(t, "seq-any")
	}
	g.seq[c]++
	return g.seq[c]
}

func (g *gen) wait(t *rapid.T) WaitPolicy {
	switch rapid.IntRange(0, 9).Draw(t, "wait") {
	case 0, 1, 2, 3:
		return WaitPolicy{Kind: Forever}
	case 4, 5:
		return WaitPolicy{Kind: NoWait}
	case 6, 7, 8:
		return WaitPolicy{Kind: Timeout, Timeout: time.Duration(rapid.IntRange(1, 5).Draw(t, "timeout")) * time.Second}
	}
	return WaitPolicy{Kind: WaitKind(rapid.IntRange(0, 4).Draw(t, "kind")), Timeout: time.Duration(rapid.IntRange(-1, 1).Draw(t, "t"))}
}

func (g *gen) resource(t *rapid.T) Resource {
	if rapid.IntRange(0, 29).Draw(t, "bad-resource") == 0 {
		return ""
	}
	return rapid.SampledFrom(genResources).Draw(t, "resource")
}

// genOps weighs the operations: mostly acquires and releases. The list is
// sampled uniformly, whatever bias rapid gives small indexes is spread over
// acquires first.
var genOps = []string{
	"acquire", "release", "acquire", "open", "acquire", "release", "acquire", "keepalive",
	"acquire", "release", "close", "cancel", "acquire", "expire", "retry", "release",
}

// command draws the next command.
func (g *gen) command(t *rapid.T) Command {
	op := rapid.SampledFrom(genOps).Draw(t, "op")
	if len(g.m.Sessions()) < 3 && rapid.IntRange(0, 2).Draw(t, "need-session") == 0 {
		op = "open"
	}
	switch op {
	case "open":
		c := g.client(t)
		ttl := time.Duration(rapid.IntRange(-1, 70).Draw(t, "ttl")) * time.Second
		return OpenSession{Client: c, Seq: g.nextSeq(t, c), TTL: ttl}
	case "keepalive":
		c, s := g.owned(t)
		return KeepAlive{Client: c, Seq: g.nextSeq(t, c), Session: s}
	case "close":
		c, s := g.owned(t)
		return CloseSession{Client: c, Seq: g.nextSeq(t, c), Session: s}
	case "acquire":
		return g.acquire(t)
	case "release":
		return g.release(t)
	case "cancel":
		return g.cancel(t)
	case "expire":
		s := g.session(t)
		var last uint64
		if info, ok := g.m.Session(s); ok && rapid.Bool().Draw(t, "conditional") {
			last = info.Renewed - uint64(rapid.IntRange(0, 1).Draw(t, "stale"))
		}
		return ExpireSession{Session: s, LastRenewal: last}
	}
	if len(g.sent) > 0 {
		return rapid.SampledFrom(g.sent).Draw(t, "retry")
	}
	return KeepAlive{Client: g.client(t), Seq: 1, Session: 1}
}

func (g *gen) acquire(t *rapid.T) Command {
	c, s := g.owned(t)
	mode := Mode(rapid.IntRange(0, 20).Draw(t, "mode")%2 + 1)
	if rapid.IntRange(0, 29).Draw(t, "bad-mode") == 0 {
		mode = Mode(rapid.IntRange(0, 5).Draw(t, "any-mode"))
	}
	return Acquire{Client: c, Seq: g.nextSeq(t, c), Session: s, Resource: g.resource(t), Mode: mode, Wait: g.wait(t)}
}

func (g *gen) release(t *rapid.T) Command {
	c, s := g.owned(t)
	if info, ok := g.m.Session(s); ok && len(info.Held) > 0 && rapid.IntRange(0, 4).Draw(t, "held") > 0 {
		return Release{Client: c, Seq: g.nextSeq(t, c), Session: s, Resource: rapid.SampledFrom(info.Held).Draw(t, "held-resource")}
	}
	return Release{Client: c, Seq: g.nextSeq(t, c), Session: s, Resource: g.resource(t)}
}

func (g *gen) cancel(t *rapid.T) Command {
	if ws := g.m.Waiting(); len(ws) > 0 {
		w := rapid.SampledFrom(ws).Draw(t, "waiter")
		off := uint64(rapid.IntRange(0, 5).Draw(t, "off") / 5) // usually the right request
		return CancelWait{Session: w.Session, Resource: w.Resource, RequestIndex: w.Request + off}
	}
	return CancelWait{Session: g.session(t), Resource: g.resource(t), RequestIndex: rapid.Uint64Range(0, 50).Draw(t, "req")}
}

// note records what a command did that later draws depend on.
func (g *gen) note(cmd Command, res Result) {
	switch c := cmd.(type) {
	case OpenSession:
		if res.Status == StatusOK && (len(g.sessions) == 0 || g.sessions[len(g.sessions)-1] < res.Session) {
			g.sessions = append(g.sessions, res.Session)
		}
		g.sent = append(g.sent, c)
	case KeepAlive, CloseSession, Acquire, Release:
		g.sent = append(g.sent, c)
	}
}

// eventsCopy copies a Manager's events.
func eventsCopy(m *Manager) []Event { return append([]Event{}, m.Events()...) }

// TestDeterminismAndInvariants applies random sequences to two Managers
// (one of which is, at a random point, replaced by a Manager restored from
// a snapshot) and requires identical results, events and snapshot bytes,
// and the invariants after every apply.
func TestDeterminismAndInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := New(Config{}), New(Config{})
		g := &gen{m: a, seq: map[ClientID]uint64{}}
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		restoreAt := rapid.IntRange(0, steps).Draw(t, "restore-at")
		var index uint64
		for step := range steps {
			if step == restoreAt {
				b = New(Config{})
				if err := b.Restore(a.Snapshot()); err != nil {
					t.Fatalf("restore: %v", err)
				}
			}
			cmd := g.command(t)
			index += uint64(rapid.IntRange(1, 2).Draw(t, "gap"))
			ra := a.Apply(index, cmd)
			ea := eventsCopy(a)
			rb := b.Apply(index, cmd)
			eb := eventsCopy(b)
			g.note(cmd, ra)
			if fmt.Sprint(ra) != fmt.Sprint(rb) || fmt.Sprint(ea) != fmt.Sprint(eb) {
				t.Fatalf("step %d %#v: results %+v / %+v, events %+v / %+v", step, cmd, ra, rb, ea, eb)
			}
			if !bytes.Equal(a.Snapshot(), b.Snapshot()) {
				t.Fatalf("step %d %#v: snapshots differ", step, cmd)
			}
			if err := a.CheckInvariants(); err != nil {
				t.Fatalf("step %d %#v: %v", step, cmd, err)
			}
			checkResultShape(t, index, cmd, ra, ea)
		}
	})
}

// checkResultShape checks what every Result and Event must look like.
func checkResultShape(t *rapid.T, index uint64, cmd Command, res Result, events []Event) {
	if (res.Err != nil) != (res.Status == StatusRejected) {
		t.Fatalf("%#v: result %+v: error iff rejected", cmd, res)
	}
	if acq, ok := cmd.(Acquire); ok && res.Status == StatusGranted && res.Token > Token(index) {
		t.Fatalf("%#v: token %d from the future (index %d)", acq, res.Token, index)
	}
	for _, ev := range events {
		switch ev.Kind {
		case EventGranted:
			if ev.Token != Token(index) || ev.Err != nil {
				t.Fatalf("%#v: grant event %+v at index %d", cmd, ev, index)
			}
		case EventAborted:
			if ev.Err == nil || ev.Token != 0 {
				t.Fatalf("%#v: abort event %+v", cmd, ev)
			}
			if errors.Is(ev.Err, ErrDeadlockVictim) {
				t.Fatalf("%#v: victim %+v is not the request being applied", cmd, ev)
			}
		default:
			t.Fatalf("%#v: event kind %v", cmd, ev.Kind)
		}
		if ev.Request >= index {
			t.Fatalf("%#v: event %+v for a request not before %d", cmd, ev, index)
		}
	}
}
