package raft

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLeaderTransfer(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.mustPropose("n1", "a")
	term := nw.node("n1").Status().Term
	if err := nw.node("n1").TransferLeader("n2"); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	if l := nw.leader(); l != "n2" {
		t.Fatalf("leader %q after transfer to n2", l)
	}
	if st := nw.node("n2").Status(); st.Term != term+1 {
		t.Errorf("n2 leads term %d, want %d", st.Term, term+1)
	}
	nw.mustPropose("n2", "b")
	nw.run(1)
	nw.checkConverged()
}

func TestLeaderTransferCatchesUpTarget(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.isolate("n3")
	nw.proposeN("n1", "x", 10)
	nw.heal()
	if err := nw.node("n1").TransferLeader("n3"); err != nil {
		t.Fatal(err)
	}
	if err := nw.node("n1").Propose([]byte("during")); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("proposal during transfer: %v, want ErrProposalDropped", err)
	}
	if st := nw.node("n1").Status(); st.LeadTransferee != "n3" {
		t.Fatalf("transferee %q", st.LeadTransferee)
	}
	nw.stabilize()
	if l := nw.leader(); l != "n3" {
		t.Fatalf("leader %q after transfer to lagging n3", l)
	}
	nw.run(1)
	nw.checkConverged()
}

func TestLeaderTransferAbortsAfterElectionTimeout(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.crash("n3")
	if err := nw.node("n1").TransferLeader("n3"); err != nil {
		t.Fatal(err)
	}
	for range DefaultElectionTicks - 1 {
		nw.run(1)
		if nw.node("n1").Status().LeadTransferee != "n3" {
			t.Fatalf("transfer aborted before the election timeout")
		}
	}
	nw.run(1)
	st := nw.node("n1").Status()
	if st.LeadTransferee != "" || st.Role != RoleLeader {
		t.Fatalf("after timeout: transferee %q role %s", st.LeadTransferee, st.Role)
	}
	nw.mustPropose("n1", "accepted-again")
}

func TestLeaderTransferErrors(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	if err := nw.node("n2").TransferLeader("n3"); !errors.Is(err, ErrNotLeader) {
		t.Errorf("transfer on follower: %v, want ErrNotLeader", err)
	}
	if err := nw.node("n1").TransferLeader("zz"); err == nil {
		t.Errorf("transfer to a stranger accepted")
	}
	// Transferring to itself cancels a transfer in progress.
	nw.crash("n3")
	if err := nw.node("n1").TransferLeader("n3"); err != nil {
		t.Fatal(err)
	}
	if err := nw.node("n1").TransferLeader("n1"); err != nil {
		t.Fatal(err)
	}
	if st := nw.node("n1").Status(); st.LeadTransferee != "" {
		t.Errorf("transfer not cancelled: %q", st.LeadTransferee)
	}
}

func TestLogfTracesRoleChanges(t *testing.T) {
	var lines []string
	nw := newNetwork(t, 3, func(c *Config) {
		c.Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	})
	nw.elect("n1")
	if err := nw.node("n1").TransferLeader("n2"); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"raft n1: leader at term 1", "raft n2: leader at term 2", "transfer to n2 ended"} {
		if !strings.Contains(joined, want) {
			t.Errorf("trace lacks %q:\n%s", want, joined)
		}
	}
}
