package lockmgr

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadInputRejectedTableUntouched applies each malformed command to a
// table with a held lock and a waiter, and checks the error names the field
// and the value, and that the table did not change.
func TestBadInputRejectedTableUntouched(t *testing.T) {
	long := Resource(strings.Repeat("x", MaxResourceBytes+1))
	cases := []struct {
		name     string
		cmd      func(a, b SessionID) Command
		sentinel error
		mention  []string
	}{
		{"empty resource", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "", Mode: Shared}
		}, ErrInvalidResource, []string{`Acquire.Resource = ""`}},
		{"long resource", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: long, Mode: Shared}
		}, ErrInvalidResource, []string{"Acquire.Resource", "257"}},
		{"zero mode", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "r", Mode: 0}
		}, ErrInvalidMode, []string{"Acquire.Mode = 0"}},
		{"mode 3", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "r", Mode: 3}
		}, ErrInvalidMode, []string{"Acquire.Mode = 3"}},
		{"wait kind 9", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "r", Mode: Shared, Wait: WaitPolicy{Kind: 9}}
		}, ErrInvalidWait, []string{"Acquire.Wait.Kind = 9"}},
		{"timeout zero", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "r", Mode: Shared, Wait: WaitPolicy{Kind: Timeout}}
		}, ErrInvalidWait, []string{"Acquire.Wait.Timeout = 0s"}},
		{"timeout too long", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "r", Mode: Shared, Wait: WaitPolicy{Kind: Timeout, Timeout: time.Hour}}
		}, ErrInvalidWait, []string{"Acquire.Wait.Timeout = 1h0m0s"}},
		{"timeout with forever", func(a, _ SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: a, Resource: "r", Mode: Shared, Wait: WaitPolicy{Kind: Forever, Timeout: time.Second}}
		}, ErrInvalidWait, []string{"Acquire.Wait.Timeout = 1s"}},
		{"ttl zero", func(SessionID, SessionID) Command {
			return OpenSession{Client: "a", Seq: 9, TTL: 0}
		}, ErrInvalidTTL, []string{"OpenSession.TTL = 0s"}},
		{"ttl negative", func(SessionID, SessionID) Command {
			return OpenSession{Client: "a", Seq: 9, TTL: -time.Second}
		}, ErrInvalidTTL, []string{"OpenSession.TTL = -1s"}},
		{"ttl above max", func(SessionID, SessionID) Command {
			return OpenSession{Client: "a", Seq: 9, TTL: 61 * time.Second}
		}, ErrInvalidTTL, []string{"OpenSession.TTL = 1m1s", "1m0s"}},
		{"release by non-holder", func(_, b SessionID) Command {
			return Release{Client: "b", Seq: 9, Session: b, Resource: "r"}
		}, ErrNotHolder, []string{`Release.Resource = "r"`, "holds no lock"}},
		{"release empty resource", func(a, _ SessionID) Command {
			return Release{Client: "a", Seq: 9, Session: a, Resource: ""}
		}, ErrInvalidResource, []string{`Release.Resource = ""`}},
		{"unknown session", func(SessionID, SessionID) Command {
			return KeepAlive{Client: "a", Seq: 9, Session: 999}
		}, ErrUnknownSession, []string{"KeepAlive.Session = 999", "unknown session"}},
		{"session of another client", func(_, b SessionID) Command {
			return Acquire{Client: "a", Seq: 9, Session: b, Resource: "q", Mode: Shared}
		}, ErrNotSessionOwner, []string{"Acquire.Session", `"b"`}},
		{"close unknown session", func(SessionID, SessionID) Command {
			return CloseSession{Client: "a", Seq: 9, Session: 77}
		}, ErrUnknownSession, []string{"CloseSession.Session = 77"}},
		{"empty client", func(a, _ SessionID) Command {
			return Acquire{Client: "", Seq: 9, Session: a, Resource: "r", Mode: Shared}
		}, ErrInvalidClient, []string{`Acquire.Client = ""`}},
		{"seq zero", func(a, _ SessionID) Command {
			return Release{Client: "a", Seq: 0, Session: a, Resource: "r"}
		}, ErrInvalidSeq, []string{"Release.Seq = 0"}},
		{"stale seq", func(a, _ SessionID) Command {
			return Release{Client: "a", Seq: 1, Session: a, Resource: "r"}
		}, ErrStaleSequence, []string{"Release.Seq = 1", "last applied is 2"}},
		{"expire unknown session", func(SessionID, SessionID) Command {
			return ExpireSession{Session: 55}
		}, ErrUnknownSession, []string{"ExpireSession.Session = 55"}},
		{"cancel not waiting", func(a, _ SessionID) Command {
			return CancelWait{Session: a, Resource: "r", RequestIndex: 3}
		}, ErrNotWaiting, []string{"CancelWait.RequestIndex = 3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			a, b := h.open("a"), h.open("b")
			requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
			require.Equal(t, StatusQueued, h.acquire("b", b, "r", Shared, Forever).Status)
			before := h.m.tableBytes()
			cmd := tc.cmd(a, b)
			res := h.apply(cmd)
			requireRejected(t, res, tc.sentinel)
			for _, s := range tc.mention {
				assert.Contains(t, res.Err.Error(), s)
			}
			assert.Equal(t, before, h.m.tableBytes(), "table untouched")
			assert.Empty(t, h.events)
			if tc.sentinel != ErrStaleSequence {
				if v := h.m.Validate(cmd); v != nil {
					assert.ErrorIs(t, v, tc.sentinel, "Validate agrees with Apply")
				}
			}
		})
	}
}

func TestValidateStatelessChecks(t *testing.T) {
	m := New(Config{})
	assert.NoError(t, m.Validate(Acquire{Client: "a", Seq: 1, Session: 1, Resource: "r", Mode: Shared}))
	assert.ErrorIs(t, m.Validate(Acquire{Client: "a", Seq: 1, Session: 1, Resource: "r", Mode: 5}), ErrInvalidMode)
	assert.ErrorIs(t, m.Validate(OpenSession{Client: "a", Seq: 1}), ErrInvalidTTL)
	assert.ErrorIs(t, m.Validate(KeepAlive{Client: "a"}), ErrInvalidSeq)
	assert.ErrorIs(t, m.Validate(CloseSession{Seq: 1}), ErrInvalidClient)
	assert.ErrorIs(t, m.Validate(Release{Client: "a", Seq: 1}), ErrInvalidResource)
	assert.NoError(t, m.Validate(CancelWait{}))
	assert.NoError(t, m.Validate(ExpireSession{}))
}

func TestErrorMessagesCarryContext(t *testing.T) {
	err := fieldError(ErrInvalidMode, "Acquire", "Mode", 7, "want Shared (1) or Exclusive (2)")
	assert.Equal(t, "lockmgr: Acquire.Mode = 7: invalid mode (want Shared (1) or Exclusive (2))", err.Error())
	assert.ErrorIs(t, err, ErrInvalidMode)
	assert.NotErrorIs(t, err, ErrInvalidTTL)
	assert.Panics(t, func() { errorCode(ErrInvalidMode) }, "bare sentinels never reach a Result")
}
