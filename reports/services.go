package reports

import (
	"strconv"
	"strings"
	"time"

	"github.com/distsync/distsync/scenarios"
)

// lockSections are the lock service's tables: its Raft group (terms,
// leader changes, the time to elect after each leader loss) and its lock
// table (grants, waits, deadlocks and their victims).
func lockSections(r *scenarios.Result) []Section {
	raft := Section{Title: "Raft (locks)", Header: []string{"counter", "value"}, Rows: [][]string{
		{"terms", u(r.Terms)},
		{"leader changes", strconv.Itoa(len(r.Elections))},
		{"leader losses (crash or step-down)", strconv.Itoa(len(r.LeaderLost))},
	}}
	secs := []Section{raft}
	if recs := r.Recoveries(); len(recs) > 0 {
		rec := Section{Title: "Time to elect after each leader loss",
			Header: []string{"leader lost at", "new leader at", "time to elect", "new leader", "term"}}
		for _, x := range recs {
			row := []string{Dur(x.Lost), "never", "-", "-", "-"}
			if e, ok := electionAt(r, x.Elected); ok {
				row = []string{Dur(x.Lost), Dur(x.Elected), Dur(x.Elected - x.Lost), e.Node, u(e.Term)}
			}
			rec.Rows = append(rec.Rows, row)
		}
		secs = append(secs, rec)
	}
	locks := Section{Title: "Locks", Header: []string{"counter", "value"}}
	if st := r.Locks; st != nil {
		locks.Rows = [][]string{
			{"grants", u(st.Grants)}, {"waits (queued acquires)", u(st.Waits)},
			{"deadlocks detected", u(st.Deadlocks)}, {"deadlock victims", u(st.Victims)},
			{"wait timeouts", u(st.Timeouts)}, {"sessions expired", u(st.Expired)},
		}
	} else {
		locks.Note = "no lock table counters in this result (no server was up at the end)"
	}
	secs = append(secs, locks)
	if v := victimsSection(r); len(v.Rows) > 0 {
		secs = append(secs, v)
	}
	return secs
}

// electionAt finds the election at virtual time at (at > 0).
func electionAt(r *scenarios.Result, at time.Duration) (scenarios.Election, bool) {
	if at <= 0 {
		return scenarios.Election{}, false
	}
	for _, e := range r.Elections {
		if e.At == at {
			return e, true
		}
	}
	return scenarios.Election{}, false
}

// victimsSection lists the acquires aborted to break a deadlock, as the
// clients saw them.
func victimsSection(r *scenarios.Result) Section {
	s := Section{Title: "Deadlock victims (as the clients saw them)",
		Header: []string{"asked at", "aborted at", "client", "resource"}}
	for _, o := range r.Ops {
		if o.Service == "locks" && o.Outcome == scenarios.OutcomeFail && strings.Contains(o.Detail, "deadlock victim") {
			s.Rows = append(s.Rows, []string{Dur(o.Call), Dur(o.Return), o.Client, o.Key})
		}
	}
	return s
}

// queueSections are the queue service's tables: its Raft groups (one per
// queue placement) and what the clients and the nodes saw of the queues.
func queueSections(r *scenarios.Result) []Section {
	raft := Section{Title: "Raft (queue groups)", Header: []string{"counter", "value"}, Rows: [][]string{
		{"highest term of any group", u(r.Terms)},
		{"leaders elected (all groups)", strconv.Itoa(len(r.Elections))},
		{"leader losses (all groups)", strconv.Itoa(len(r.LeaderLost))},
	}}
	q := Section{Title: "Queues", Header: []string{"counter", "value"}}
	if st := r.Queues; st != nil {
		q.Rows = [][]string{
			{"enqueues acknowledged", u(st.Enqueued)}, {"deliveries", u(st.Delivered)},
			{"redeliveries", u(st.Redelivered)}, {"acks accepted", u(st.Acked)},
			{"acks refused (receipt expired or moved)", u(st.AckRefused)}, {"dead-lettered", u(st.DeadLettered)},
			{"acknowledged but never delivered", strconv.Itoa(st.Undelivered)},
			{"group replicas dropped after a move", u(st.Moves)}, {"last ring epoch", u(st.Epoch)},
		}
	} else {
		q.Note = "no queue counters in this result"
	}
	return []Section{raft, q}
}

// cacheSections are the cache service's tables: what the clients saw,
// the coherence traffic, and the lines' states at the end.
func cacheSections(r *scenarios.Result) []Section {
	c := Section{Title: "Cache", Header: []string{"counter", "value"}}
	st := r.Caches
	if st == nil {
		c.Note = "no cache counters in this result"
		return []Section{c}
	}
	policy := "write-back"
	if st.WriteThrough {
		policy = "write-through"
	}
	c.Rows = [][]string{
		{"protocol", st.Protocol + ", " + policy},
		{"gets / puts completed", u(st.Gets) + " / " + u(st.Puts)},
		{"hits", u(st.Hits) + " (" + strconv.FormatFloat(st.HitRate, 'f', 1, 64) + "%)"},
		{"coherence messages", u(st.Messages)},
		{"invalidations / fetches / write-backs", u(st.Invalidations) + " / " + u(st.Fetches) + " / " + u(st.WriteBacks)},
		{"evictions", u(st.Evictions)},
		{"lost writes (M lines lost in crashes)", strconv.Itoa(st.LostWrites)},
		{"puts in flight at a crash (may apply twice)", strconv.Itoa(st.AmbiguousPuts)},
		{"keys left out of the linearizability check", strconv.Itoa(st.LostKeys)},
	}
	states := Section{Title: "Cache lines at the end", Header: []string{"state", "lines"}}
	for i, name := range []string{"I", "S", "E", "M"} {
		states.Rows = append(states.Rows, []string{name, strconv.Itoa(st.States[i])})
	}
	return []Section{c, states}
}
