package lockmgr

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// refModel is a deliberately naive reference lock table: plain slices,
// every resource promoted after every command, the wait-for relation
// rebuilt from scratch and searched exhaustively for each new waiter. It
// has no exactly-once table, no graph, no bounds; the test feeds it only
// fresh sequence numbers.
type refModel struct {
	index    uint64
	sessions map[SessionID]ClientID
	res      map[Resource]*refResource
	events   []refEvent
}

type refResource struct {
	mode    Mode
	holders []refHolder
	queue   []refWaiter
}

type refHolder struct {
	session SessionID
	token   Token
}

type refWaiter struct {
	session SessionID
	mode    Mode
	request uint64
}

// refOutcome is the comparable part of a Result or Event.
type refOutcome struct {
	status   Status
	token    Token
	request  uint64
	sentinel error
}

type refEvent struct {
	kind     EventKind
	session  SessionID
	resource Resource
	token    Token
	request  uint64
	sentinel error
}

func newRefModel() *refModel {
	return &refModel{sessions: map[SessionID]ClientID{}, res: map[Resource]*refResource{}}
}

func reject(sentinel error) refOutcome { return refOutcome{status: StatusRejected, sentinel: sentinel} }

func (m *refModel) apply(index uint64, cmd Command) refOutcome {
	m.index, m.events = index, nil
	var out refOutcome
	switch c := cmd.(type) {
	case OpenSession:
		m.sessions[SessionID(index)] = c.Client
		out = refOutcome{status: StatusOK}
	case Acquire:
		out = m.acquire(c)
	case Release:
		out = m.release(c)
	case CloseSession:
		out = m.end(c.Client, c.Session, ErrSessionClosed)
	case ExpireSession:
		out = m.end(m.sessions[c.Session], c.Session, ErrSessionExpired)
	case CancelWait:
		out = m.cancel(c)
	}
	m.promoteAll()
	return out
}

func (m *refModel) owned(client ClientID, sid SessionID) error {
	c, ok := m.sessions[sid]
	switch {
	case !ok:
		return ErrUnknownSession
	case c != client:
		return ErrNotSessionOwner
	}
	return nil
}

func (r *refResource) holderAt(sid SessionID) int {
	return slices.IndexFunc(r.holders, func(h refHolder) bool { return h.session == sid })
}

func (r *refResource) compatible(sid SessionID, mode Mode) bool {
	for _, h := range r.holders {
		if h.session != sid && conflicts(mode, r.mode) {
			return false
		}
	}
	return true
}

func (m *refModel) waitingOn(sid SessionID) (Resource, int) {
	for name, r := range m.res {
		for i, w := range r.queue {
			if w.session == sid {
				return name, i
			}
		}
	}
	return "", -1
}

func (m *refModel) acquire(c Acquire) refOutcome {
	if err := m.owned(c.Client, c.Session); err != nil {
		return reject(err)
	}
	r := m.res[c.Resource]
	granted := refOutcome{status: StatusGranted, token: Token(m.index), request: m.index}
	pos := 0
	switch {
	case r != nil && r.holderAt(c.Session) >= 0:
		i := r.holderAt(c.Session)
		if r.mode == Exclusive || c.Mode == Shared {
			return refOutcome{status: StatusGranted, token: r.holders[i].token, request: m.index}
		}
		if len(r.holders) == 1 {
			r.mode, r.holders[0].token = Exclusive, Token(m.index)
			return granted
		}
		for pos < len(r.queue) && r.holderAt(r.queue[pos].session) >= 0 {
			pos++
		}
	case r == nil:
		m.res[c.Resource] = &refResource{mode: c.Mode, holders: []refHolder{{c.Session, Token(m.index)}}}
		return granted
	case len(r.queue) == 0 && r.compatible(c.Session, c.Mode):
		r.holders = append(r.holders, refHolder{c.Session, Token(m.index)})
		return granted
	default:
		pos = len(r.queue)
	}
	switch _, i := m.waitingOn(c.Session); {
	case c.Wait.Kind == NoWait:
		return reject(ErrWouldBlock)
	case i >= 0:
		return reject(ErrAlreadyWaiting)
	}
	r.queue = slices.Insert(r.queue, pos, refWaiter{c.Session, c.Mode, m.index})
	if m.reaches(c.Session, c.Session) {
		r.queue = slices.Delete(r.queue, pos, pos+1)
		return reject(ErrDeadlockVictim)
	}
	return refOutcome{status: StatusQueued, request: m.index}
}

// waitsFor is the wait-for relation, rebuilt from scratch.
func (m *refModel) waitsFor(sid SessionID) []SessionID {
	name, i := m.waitingOn(sid)
	if i < 0 {
		return nil
	}
	r := m.res[name]
	w := r.queue[i]
	var out []SessionID
	for _, h := range r.holders {
		if h.session != sid && conflicts(w.mode, r.mode) {
			out = append(out, h.session)
		}
	}
	for _, a := range r.queue[:i] {
		if a.session != sid && conflicts(w.mode, a.mode) {
			out = append(out, a.session)
		}
	}
	return out
}

// reaches searches every path from a for b.
func (m *refModel) reaches(a, b SessionID) bool {
	seen := map[SessionID]bool{}
	todo := m.waitsFor(a)
	for len(todo) > 0 {
		n := todo[0]
		todo = todo[1:]
		if n == b {
			return true
		}
		if !seen[n] {
			seen[n] = true
			todo = append(todo, m.waitsFor(n)...)
		}
	}
	return false
}

func (m *refModel) release(c Release) refOutcome {
	if err := m.owned(c.Client, c.Session); err != nil {
		return reject(err)
	}
	r := m.res[c.Resource]
	if r == nil || r.holderAt(c.Session) < 0 {
		return reject(ErrNotHolder)
	}
	if name, i := m.waitingOn(c.Session); name == c.Resource {
		m.abort(name, i, ErrReleased)
	}
	r.holders = slices.Delete(r.holders, r.holderAt(c.Session), r.holderAt(c.Session)+1)
	return refOutcome{status: StatusOK}
}

func (m *refModel) abort(name Resource, i int, sentinel error) {
	r := m.res[name]
	w := r.queue[i]
	r.queue = slices.Delete(r.queue, i, i+1)
	m.events = append(m.events, refEvent{EventAborted, w.session, name, 0, w.request, sentinel})
}

func (m *refModel) end(client ClientID, sid SessionID, sentinel error) refOutcome {
	if err := m.owned(client, sid); err != nil {
		return reject(err)
	}
	if name, i := m.waitingOn(sid); i >= 0 {
		m.abort(name, i, sentinel)
	}
	for _, r := range m.res {
		if i := r.holderAt(sid); i >= 0 {
			r.holders = slices.Delete(r.holders, i, i+1)
		}
	}
	delete(m.sessions, sid)
	return refOutcome{status: StatusOK}
}

func (m *refModel) cancel(c CancelWait) refOutcome {
	name, i := m.waitingOn(c.Session)
	if i < 0 || name != c.Resource || m.res[name].queue[i].request != c.RequestIndex {
		return reject(ErrNotWaiting)
	}
	m.abort(name, i, ErrTimeout)
	return refOutcome{status: StatusOK}
}

// promoteAll grants every grantable queue head, everywhere, and forgets
// free resources.
func (m *refModel) promoteAll() {
	for name, r := range m.res {
		for len(r.queue) > 0 && r.compatible(r.queue[0].session, r.queue[0].mode) {
			w := r.queue[0]
			r.queue = r.queue[1:]
			if i := r.holderAt(w.session); i >= 0 {
				r.mode, r.holders[i].token = Exclusive, Token(m.index)
			} else {
				if len(r.holders) == 0 {
					r.mode = w.mode
				}
				r.holders = append(r.holders, refHolder{w.session, Token(m.index)})
			}
			m.events = append(m.events, refEvent{EventGranted, w.session, name, Token(m.index), w.request, nil})
		}
		if len(r.holders) == 0 {
			delete(m.res, name)
		}
	}
}

// sentinelOf returns the sentinel an error of this package wraps.
func sentinelOf(err error) error {
	for _, s := range errorCodes {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

func outcomeOf(r Result) refOutcome {
	o := refOutcome{status: r.Status, token: r.Token, request: r.Request, sentinel: sentinelOf(r.Err)}
	if o.status == StatusRejected || o.status == StatusOK {
		o.token, o.request = 0, 0
	}
	return o
}

func sortedEvents(evs []refEvent) []refEvent {
	return slices.SortedFunc(slices.Values(evs), func(a, b refEvent) int {
		return cmp.Or(cmp.Compare(a.resource, b.resource), cmp.Compare(a.session, b.session), cmp.Compare(a.kind, b.kind))
	})
}

// TestAgainstReferenceModel applies random commands to the Manager and to
// refModel and requires the same outcomes, the same grants and aborts, and
// the same holders and queues everywhere after every command.
func TestAgainstReferenceModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, ref := New(Config{}), newRefModel()
		g := &gen{m: m, seq: map[ClientID]uint64{}}
		for step := range rapid.IntRange(1, 150).Draw(t, "steps") {
			cmd := modelCommand(t, g)
			index := uint64(step + 1)
			res := m.Apply(index, cmd)
			want := ref.apply(index, cmd)
			g.note(cmd, res)
			if got := outcomeOf(res); got != want {
				t.Fatalf("step %d %#v: manager %+v (%v), model %+v", step, cmd, got, res.Err, want)
			}
			var got []refEvent
			for _, e := range m.Events() {
				got = append(got, refEvent{e.Kind, e.Session, e.Resource, e.Token, e.Request, sentinelOf(e.Err)})
			}
			if a, b := sortedEvents(got), sortedEvents(ref.events); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("step %d %#v: events %v, model %v", step, cmd, a, b)
			}
			compareTables(t, step, m, ref)
		}
	})
}

// modelCommand draws a command with a fresh sequence number and valid
// fields: the model does not know about retries and bad input.
func modelCommand(t *rapid.T, g *gen) Command {
	fresh := func(c ClientID) uint64 {
		g.seq[c]++
		return g.seq[c]
	}
	for {
		switch c := g.command(t).(type) {
		case OpenSession:
			return OpenSession{Client: c.Client, Seq: fresh(c.Client), TTL: time.Second}
		case Acquire:
			c.Seq = fresh(c.Client)
			if g.m.Validate(c) == nil {
				return c
			}
		case Release:
			c.Seq = fresh(c.Client)
			if g.m.Validate(c) == nil {
				return c
			}
		case CloseSession:
			c.Seq = fresh(c.Client)
			return c
		case ExpireSession:
			return ExpireSession{Session: c.Session}
		case CancelWait:
			return c
		}
	}
}

func compareTables(t *rapid.T, step int, m *Manager, ref *refModel) {
	for _, name := range genResources {
		var want []HolderInfo
		var wantW []WaiterInfo
		if r := ref.res[name]; r != nil {
			for _, h := range r.holders {
				want = append(want, HolderInfo{Session: h.session, Client: ref.sessions[h.session], Mode: r.mode, Token: h.token})
			}
			for _, w := range r.queue {
				wantW = append(wantW, WaiterInfo{Session: w.session, Mode: w.mode, Request: w.request})
			}
		}
		if got := m.Holders(name); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d: %q holders %+v, model %+v", step, name, got, want)
		}
		var gotW []WaiterInfo
		for _, w := range m.Waiters(name) {
			gotW = append(gotW, WaiterInfo{Session: w.Session, Mode: w.Mode, Request: w.Request})
		}
		if fmt.Sprint(gotW) != fmt.Sprint(wantW) {
			t.Fatalf("step %d: %q waiters %+v, model %+v", step, name, gotW, wantW)
		}
	}
}
