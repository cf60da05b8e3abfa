package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// lockCluster starts three lock servers with their HTTP APIs.
func lockCluster(t *testing.T) *testCluster {
	return newCluster(t, 3, lockFactory, func(c *Config, ids []nodes.NodeID) {
		c.Locks = &LockConfig{Servers: ids, WaitGrace: 500 * time.Millisecond}
	})
}

func TestLockAcquireReleaseRenewQuery(t *testing.T) {
	c := lockCluster(t)
	leader := c.lockLeader(t)
	url := leader.url

	r := call(t, noFollow, http.MethodPost, url+"/locks/acquire", map[string]any{"resource": "r1", "mode": "exclusive", "wait": "0s"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	require.Equal(t, true, got["granted"])
	token, session := num(t, got, "token"), num(t, got, "session")
	require.NotZero(t, token)
	require.NotZero(t, session)
	require.Equal(t, "exclusive", got["mode"])

	r = call(t, noFollow, http.MethodGet, url+"/locks/r1", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	holders := r.json(t)["holders"].([]any)
	require.Len(t, holders, 1)
	h := holders[0].(map[string]any)
	require.Equal(t, session, num(t, h, "session"))
	require.Equal(t, token, num(t, h, "token"))
	require.Equal(t, "exclusive", h["mode"])

	r = call(t, noFollow, http.MethodPost, url+"/locks/renew", map[string]any{"session": session})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["ok"])

	// A shared request on the held lock, as a try-lock: refused at once.
	r = call(t, noFollow, http.MethodPost, url+"/locks/acquire", map[string]any{"resource": "r1", "mode": "shared", "wait": "0s"})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "would_block", r.json(t)["code"])

	// A short wait runs out: 408.
	r = call(t, noFollow, http.MethodPost, url+"/locks/acquire", map[string]any{"resource": "r1", "mode": "exclusive", "wait": "200ms"})
	require.Equal(t, http.StatusRequestTimeout, r.status, "%s", r.body)
	require.Equal(t, "wait_timeout", r.json(t)["code"])

	r = call(t, noFollow, http.MethodPost, url+"/locks/release", map[string]any{"session": session, "resource": "r1"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodPost, url+"/locks/release", map[string]any{"session": session, "resource": "r1"})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "not_holder", r.json(t)["code"])

	r = call(t, noFollow, http.MethodGet, url+"/locks/r1", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.json(t)["holders"])

	r = call(t, noFollow, http.MethodPost, url+"/locks/renew", map[string]any{"session": 987654321})
	require.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
	require.Equal(t, "session", r.json(t)["field"])
}

func TestLockContentionWaiterGetsItAfterRelease(t *testing.T) {
	c := lockCluster(t)
	url := c.lockLeader(t).url

	r := call(t, noFollow, http.MethodPost, url+"/locks/acquire", map[string]any{"resource": "hot", "mode": "exclusive"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	first := r.json(t)

	waiter := make(chan response, 1)
	go func() {
		r, err := tryCall(noFollow, http.MethodPost, url+"/locks/acquire", map[string]any{"resource": "hot", "mode": "exclusive", "wait": "5s"})
		if err != nil {
			r = response{status: -1, body: []byte(err.Error())}
		}
		waiter <- r
	}()
	require.Eventually(t, func() bool {
		r := call(t, noFollow, http.MethodGet, url+"/locks/hot", nil)
		return r.status == http.StatusOK && len(r.json(t)["waiters"].([]any)) == 1
	}, 5*time.Second, 10*time.Millisecond, "the second acquire never queued")
	select {
	case r := <-waiter:
		t.Fatalf("the waiter got an answer while the lock was held: %d %s", r.status, r.body)
	default:
	}

	r = call(t, noFollow, http.MethodPost, url+"/locks/release", map[string]any{"session": num(t, first, "session"), "resource": "hot"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	select {
	case r := <-waiter:
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		second := r.json(t)
		require.Equal(t, true, second["granted"])
		require.Greater(t, num(t, second, "token"), num(t, first, "token"), "fencing tokens must grow")
		require.NotEqual(t, num(t, first, "session"), num(t, second, "session"))
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter was not granted after the release")
	}
}

func TestLockFollowerRedirectsToLeader(t *testing.T) {
	c := lockCluster(t)
	leader := c.lockLeader(t)
	follower := c.others(leader)[0]
	body := map[string]any{"resource": "r9", "mode": "shared", "wait": "0s"}

	r := call(t, noFollow, http.MethodPost, follower.url+"/locks/acquire", body)
	require.Equal(t, http.StatusTemporaryRedirect, r.status, "%s", r.body)
	require.Equal(t, leader.url+"/locks/acquire", r.header.Get("Location"))
	require.Equal(t, string(leader.id), r.json(t)["leader"])

	r = call(t, noFollow, http.MethodGet, follower.url+"/locks/r9", nil)
	require.Equal(t, http.StatusTemporaryRedirect, r.status, "%s", r.body)
	require.Equal(t, leader.url+"/locks/r9", r.header.Get("Location"))

	// A client that follows the redirect re-sends the body to the leader.
	r = call(t, follow, http.MethodPost, follower.url+"/locks/acquire", body)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["granted"])
}

func TestLockCallerClientRetryIsExactlyOnce(t *testing.T) {
	c := lockCluster(t)
	url := c.lockLeader(t).url
	r := call(t, noFollow, http.MethodPost, url+"/locks/session", map[string]any{"client": "app-1", "seq": 1, "ttl": "20s"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	open := r.json(t)
	require.Equal(t, "app-1", open["client"])
	session := num(t, open, "session")

	acq := map[string]any{"resource": "once", "mode": "exclusive", "wait": "0s", "session": session, "client": "app-1", "seq": 2}
	r = call(t, noFollow, http.MethodPost, url+"/locks/acquire", acq)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	token := num(t, r.json(t), "token")
	r = call(t, noFollow, http.MethodPost, url+"/locks/acquire", acq) // the retry: the cached grant
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, token, num(t, r.json(t), "token"))

	// The session's owner is found without naming the client.
	r = call(t, noFollow, http.MethodPost, url+"/locks/release", map[string]any{"session": session, "resource": "once"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "app-1", r.json(t)["client"])
	// An old seq is refused.
	r = call(t, noFollow, http.MethodPost, url+"/locks/renew", map[string]any{"session": session, "client": "app-1", "seq": 1})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "stale_sequence", r.json(t)["code"])
	r = call(t, noFollow, http.MethodPost, url+"/locks/session/close", map[string]any{"session": session})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

func TestLockNoQuorumAnswers503Promptly(t *testing.T) {
	c := lockCluster(t)
	leader := c.lockLeader(t)
	for _, o := range c.others(leader) {
		require.NoError(t, o.host.Stop())
	}
	body := map[string]any{"resource": "r", "mode": "exclusive", "wait": "0s"}
	deadline := time.Now().Add(8 * time.Second)
	for {
		start := time.Now()
		r := call(t, noFollow, http.MethodPost, leader.url+"/locks/acquire", body)
		took := time.Since(start)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		require.Equal(t, "no quorum", r.json(t)["error"])
		require.NotEmpty(t, r.header.Get("Retry-After"))
		if took < 500*time.Millisecond {
			return // the node knows it has no leader, and says so at once
		}
		require.True(t, time.Now().Before(deadline), "503 never came promptly (last took %v)", took)
	}
}

// TestLockNamedClientAnsweredByTheCommand: a request that names its client
// skips the leader and session-owner lookup; the command itself answers
// what that lookup would have: a redirect on a follower, 409 on another
// client's session, 404 on an unknown one. The client's subscription stays
// open between its requests.
func TestLockNamedClientAnsweredByTheCommand(t *testing.T) {
	c := lockCluster(t)
	leader := c.lockLeader(t)
	follower := c.others(leader)[0]
	r := call(t, noFollow, http.MethodPost, follower.url+"/locks/session", map[string]any{"client": "app-2", "seq": 1, "ttl": "20s"})
	require.Equal(t, http.StatusTemporaryRedirect, r.status, "%s", r.body)
	require.Equal(t, leader.url+"/locks/session", r.header.Get("Location"))

	r = call(t, noFollow, http.MethodPost, leader.url+"/locks/session", map[string]any{"client": "app-2", "seq": 2, "ttl": "20s"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	session := num(t, r.json(t), "session")
	r = call(t, noFollow, http.MethodPost, leader.url+"/locks/acquire",
		map[string]any{"resource": "x", "mode": "exclusive", "wait": "0s", "session": session, "client": "app-3", "seq": 1})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "not_session_owner", r.json(t)["code"])
	r = call(t, noFollow, http.MethodPost, leader.url+"/locks/acquire",
		map[string]any{"resource": "x", "mode": "exclusive", "wait": "0s", "session": session + 1000, "client": "app-2", "seq": 3})
	require.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
	require.Equal(t, "unknown_session", r.json(t)["code"])

	leader.api.clients.mu.Lock()
	mb := leader.api.clients.boxes["app-2"]
	idle := mb != nil && mb.idle != nil && mb.refs == 0
	leader.api.clients.mu.Unlock()
	require.True(t, idle, "app-2's mailbox is kept, idle, for its next request")
	r = call(t, noFollow, http.MethodPost, leader.url+"/locks/release", map[string]any{"session": session, "resource": "x", "client": "app-2", "seq": 4})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "not_holder", r.json(t)["code"])
	leader.api.clients.mu.Lock()
	require.Same(t, mb, leader.api.clients.boxes["app-2"], "the same subscription served the next request")
	leader.api.clients.mu.Unlock()
}
