package raft

import "testing"

// TestImpossibleStatesPanic checks that the local assertions fire: an
// impossible state panics instead of being silently propagated.
func TestImpossibleStatesPanic(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(nw *network)
	}{
		{"commit beyond last index", func(nw *network) {
			r := nw.node("n2")
			r.log.commitTo(r.log.lastIndex() + 5)
		}},
		{"heartbeat commit beyond last index", func(nw *network) {
			_ = nw.node("n2").Step(Message{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 1, Commit: 50})
		}},
		{"append leaving a gap", func(nw *network) {
			r := nw.node("n2")
			r.log.append(Entry{Term: 1, Index: r.log.lastIndex() + 2})
		}},
		{"term going backwards", func(nw *network) { nw.node("n2").reset(0) }},
		{"two leaders seen by a follower", func(nw *network) {
			_ = nw.node("n2").Step(Message{Type: MsgApp, From: "n3", To: "n2", Term: 1, Index: 1, LogTerm: 1})
		}},
		{"two leaders seen by a leader", func(nw *network) {
			_ = nw.node("n1").Step(Message{Type: MsgHeartbeat, From: "n2", To: "n1", Term: 1})
		}},
		{"truncating a committed entry", func(nw *network) {
			nw.node("n2").log.truncateAndAppend([]Entry{{Term: 5, Index: 1}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := newNetwork(t, 3)
			nw.elect("n1")
			mustPanic(t, tc.name, func() { tc.do(nw) })
		})
	}
}
