package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// nodeEnv makes the test binary run a node instead of the tests: Launch
// starts os.Args[0] ("node --config F --id N") with it set.
const nodeEnv = NodeEnv

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) == "1" {
		os.Exit(RunNode(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// realCluster is a local cluster of real processes (the test binary).
type realCluster struct {
	t      *testing.T
	f      *File
	client *http.Client
}

// startCluster starts n node processes and waits until they are healthy;
// they are stopped when the test ends.
func startCluster(t *testing.T, n int) *realCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("real processes: skipped with -short")
	}
	base, err := FreeBasePort(n)
	require.NoError(t, err)
	path, err := WriteLocal(LocalSpec{Nodes: n, Dir: t.TempDir(), BasePort: base})
	require.NoError(t, err)
	f, err := Load(path)
	require.NoError(t, err)
	t.Setenv(nodeEnv, "1")
	require.NoError(t, Launch(f, os.Args[0]))
	c := &realCluster{t: t, f: f, client: &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t.Cleanup(func() {
		_, err := Down(f, 5*time.Second)
		if err != nil {
			t.Errorf("cluster down: %v", err)
		}
		if t.Failed() {
			for i := range f.Nodes {
				b, _ := os.ReadFile(f.path(string(f.Nodes[i].ID) + ".log"))
				t.Logf("log of %s:\n%s", f.Nodes[i].ID, tail(string(b), 3000))
			}
		}
	})
	c.waitHealthy()
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (c *realCluster) waitHealthy() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(c.t, WaitHealthy(ctx, c.f, c.client))
}

// url returns node id's base URL.
func (c *realCluster) url(id nodes.NodeID) string {
	n, err := c.f.Node(id)
	require.NoError(c.t, err)
	return c.f.URL(n)
}

// call sends a request to node id, follows 307s to the leader (re-sending
// the body) and retries 503s until deadline; it returns the last status
// and decoded body.
func (c *realCluster) call(method string, id nodes.NodeID, path string, body any, deadline time.Duration) (int, map[string]any) {
	c.t.Helper()
	url := c.url(id) + path
	end := time.Now().Add(deadline)
	for {
		status, out, loc := c.once(method, url, body)
		switch {
		case status == http.StatusTemporaryRedirect && loc != "":
			url = loc
			continue
		case (status == http.StatusServiceUnavailable || status == 0) && time.Now().Before(end):
			// No quorum yet, or a redirect to a leader that is gone: ask
			// the first node again.
			time.Sleep(20 * time.Millisecond)
			url = c.url(id) + path
			continue
		}
		return status, out
	}
}

func (c *realCluster) once(method, url string, body any) (int, map[string]any, string) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(c.t, err)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out, resp.Header.Get("Location")
}

// leader returns the lock service's leader as node id sees it ("" if
// none).
func (c *realCluster) leader(id nodes.NodeID) nodes.NodeID {
	status, st := c.call(http.MethodGet, id, "/status", nil, 0)
	if status != http.StatusOK {
		return ""
	}
	locks, _ := st["locks"].(map[string]any)
	l, _ := locks["leader"].(string)
	return nodes.NodeID(l)
}

// anyLeader waits for a lock leader among the given nodes.
func (c *realCluster) anyLeader(ids []nodes.NodeID, limit time.Duration) nodes.NodeID {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		for _, id := range ids {
			if l := c.leader(id); l != "" && l == c.leader(l) {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no lock leader among %v within %v", ids, limit)
	return ""
}

func num(t *testing.T, m map[string]any, key string) uint64 {
	t.Helper()
	v, ok := m[key]
	require.True(t, ok, "no %q in %v", key, m)
	switch x := v.(type) {
	case float64:
		return uint64(x)
	case string:
		var n uint64
		_, err := fmt.Sscan(x, &n)
		require.NoError(t, err)
		return n
	}
	t.Fatalf("%q is %T in %v", key, v, m)
	return 0
}

func TestRealClusterLocks(t *testing.T) {
	c := startCluster(t, 3)
	status, a := c.call(http.MethodPost, "n1", "/locks/acquire", map[string]any{"resource": "r1", "mode": "exclusive"}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", a)
	require.Equal(t, true, a["granted"])
	session := num(t, a, "session")

	// A try-lock from another session conflicts.
	status, b := c.call(http.MethodPost, "n2", "/locks/acquire", map[string]any{"resource": "r1", "mode": "exclusive", "wait": "0s"}, 5*time.Second)
	require.NotEqual(t, http.StatusOK, status, "%v", b)

	status, q := c.call(http.MethodGet, "n3", "/locks/r1", nil, 5*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", q)
	require.Len(t, q["holders"], 1)

	status, r := c.call(http.MethodPost, "n3", "/locks/release", map[string]any{"session": session, "resource": "r1"}, 5*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", r)
	status, a2 := c.call(http.MethodPost, "n2", "/locks/acquire", map[string]any{"resource": "r1", "mode": "exclusive", "wait": "0s"}, 5*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", a2)

	// Bad input: 400 naming the field, 413 over the limit, 404.
	status, bad := c.call(http.MethodPost, "n1", "/locks/acquire", map[string]any{"resource": "r1", "mode": "sideways"}, 0)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "mode", bad["field"])
	status, _ = c.call(http.MethodPost, "n1", "/locks/acquire", bytes.Repeat([]byte(" "), 2<<20), 0)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	status, _ = c.call(http.MethodGet, "n1", "/nowhere", nil, 0)
	require.Equal(t, http.StatusNotFound, status)
}

// TestRealClusterKillLeader: SIGKILL the lock leader while clients acquire
// and release and enqueue. A new leader serves within 2 s, no
// acknowledged operation is lost, and the killed node restarts and
// catches up.
func TestRealClusterKillLeader(t *testing.T) {
	c := startCluster(t, 3)
	all := []nodes.NodeID{"n1", "n2", "n3"}
	leader := c.anyLeader(all, 10*time.Second)

	// Before the kill: locks held, a lock released, messages enqueued.
	held := map[string]uint64{}
	for i := range 3 {
		res := fmt.Sprintf("held-%d", i)
		status, a := c.call(http.MethodPost, leader, "/locks/acquire", map[string]any{"resource": res, "mode": "exclusive", "ttl": "60s"}, 5*time.Second)
		require.Equal(t, http.StatusOK, status, "%v", a)
		held[res] = num(t, a, "session")
	}
	status, a := c.call(http.MethodPost, leader, "/locks/acquire", map[string]any{"resource": "freed", "mode": "exclusive", "ttl": "60s"}, 5*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", a)
	status, _ = c.call(http.MethodPost, leader, "/locks/release", map[string]any{"session": num(t, a, "session"), "resource": "freed"}, 5*time.Second)
	require.Equal(t, http.StatusOK, status)
	var enqueued []string
	for i := range 5 {
		body := fmt.Sprintf("m%d", i)
		status, e := c.call(http.MethodPost, leader, "/queue/enqueue", map[string]any{"queue": "jobs", "body": []byte(body)}, 5*time.Second)
		require.Equal(t, http.StatusOK, status, "%v", e)
		enqueued = append(enqueued, body)
	}

	require.NoError(t, Kill(c.f, leader))
	killed := time.Now()
	var rest []nodes.NodeID
	for _, id := range all {
		if id != leader {
			rest = append(rest, id)
		}
	}
	// A new leader serves an acquire within 2 s of the kill.
	status, a = c.call(http.MethodPost, rest[0], "/locks/acquire", map[string]any{"resource": "after", "mode": "exclusive"}, 5*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", a)
	require.Less(t, time.Since(killed), 2*time.Second, "failover took too long")

	// Nothing acknowledged is lost.
	for res, session := range held { //det:ordered independent checks
		status, q := c.call(http.MethodGet, rest[1], "/locks/"+res, nil, 5*time.Second)
		require.Equal(t, http.StatusOK, status, "%v", q)
		holders, _ := q["holders"].([]any)
		require.Len(t, holders, 1, "%s: %v", res, q)
		require.Equal(t, float64(session), holders[0].(map[string]any)["session"])
	}
	status, q := c.call(http.MethodGet, rest[1], "/locks/freed", nil, 5*time.Second)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, q["holders"])

	// The killed node restarts from its log and catches up.
	require.NoError(t, LaunchNode(c.f, leader, os.Args[0]))
	c.waitHealthy()
	want := c.commitIndex(rest[0])
	require.Eventually(t, func() bool { return c.commitIndex(leader) >= want }, 10*time.Second, 50*time.Millisecond)

	// Every acknowledged message is delivered.
	c.drainQueue(rest[0], "jobs", enqueued)
}

// commitIndex returns node id's lock commit index (0 if unknown).
func (c *realCluster) commitIndex(id nodes.NodeID) uint64 {
	status, st, _ := c.once(http.MethodGet, c.url(id)+"/status", nil)
	if status != http.StatusOK {
		return 0
	}
	locks, _ := st["locks"].(map[string]any)
	ci, _ := locks["commit_index"].(float64)
	return uint64(ci)
}

// drainQueue dequeues and acks until the queue is empty and checks that
// every wanted body came at least once.
func (c *realCluster) drainQueue(id nodes.NodeID, queue string, want []string) {
	got := map[string]bool{}
	for range 10 * len(want) {
		status, d := c.call(http.MethodPost, id, "/queue/dequeue", map[string]any{"queue": queue}, 10*time.Second)
		require.Equal(c.t, http.StatusOK, status, "%v", d)
		if d["empty"] == true {
			break
		}
		body, _ := d["body"].(string) // base64 in JSON
		var raw []byte
		require.NoError(c.t, json.Unmarshal([]byte(`"`+body+`"`), &raw))
		got[string(raw)] = true
		status, ack := c.call(http.MethodPost, id, "/queue/ack", map[string]any{"queue": queue, "receipt": d["receipt"]}, 10*time.Second)
		require.Equal(c.t, http.StatusOK, status, "%v", ack)
	}
	for _, w := range want {
		require.True(c.t, got[w], "message %q was acknowledged but never delivered (got %v)", w, got)
	}
}

// TestRealClusterQueueSurvivesKillAll: a message enqueued and acknowledged
// before every node is SIGKILLed is delivered after they restart.
func TestRealClusterQueueSurvivesKillAll(t *testing.T) {
	c := startCluster(t, 3)
	status, e := c.call(http.MethodPost, "n1", "/queue/enqueue", map[string]any{"queue": "durable", "body": []byte("precious")}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", e)
	for _, id := range []nodes.NodeID{"n1", "n2", "n3"} {
		require.NoError(t, Kill(c.f, id))
	}
	require.NoError(t, Launch(c.f, os.Args[0]))
	c.waitHealthy()
	c.drainQueue("n2", "durable", []string{"precious"})
}

// TestRealClusterRefusesBadPeer: a connection to a peer port that does
// not present the cluster token's handshake is dropped, and the cluster
// keeps working.
func TestRealClusterRefusesBadPeer(t *testing.T) {
	c := startCluster(t, 3)
	n, err := c.f.Node("n1")
	require.NoError(t, err)
	conn, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", n.Peer)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte(strings.Repeat("not a hello ", 40)))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 64)
	_, err = conn.Read(buf)
	require.Error(t, err, "the node must close the connection without answering")
	status, a := c.call(http.MethodPost, "n2", "/locks/acquire", map[string]any{"resource": "ok", "mode": "exclusive"}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "%v", a)
}
