package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/multi"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/nodes/runtime"
)

// testNode is one node of a test cluster: its Host, its HTTP API, and the
// httptest server in front of it.
type testNode struct {
	id   nodes.NodeID
	host *runtime.Host
	api  *Server
	ts   *httptest.Server
	url  string
}

// testCluster is n real Hosts on loopback, each with its HTTP API.
type testCluster struct {
	ids   []nodes.NodeID
	nodes map[nodes.NodeID]*testNode
}

// newCluster starts n Hosts built by factory (given the ids) on loopback
// listeners and temp dirs, and an HTTP API in front of each, configured by
// tweak. Everything stops when the test ends.
func newCluster(t *testing.T, n int, factory func(ids []nodes.NodeID) nodes.Factory, tweak func(c *Config, ids []nodes.NodeID)) *testCluster {
	t.Helper()
	c := &testCluster{nodes: map[nodes.NodeID]*testNode{}}
	addrs, urls := map[nodes.NodeID]string{}, map[nodes.NodeID]string{}
	lns := map[nodes.NodeID]net.Listener{}
	for i := range n {
		id := nodes.NodeID(fmt.Sprintf("n%d", i+1))
		c.ids = append(c.ids, id)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[id], addrs[id] = ln, ln.Addr().String()
		ts := httptest.NewUnstartedServer(nil)
		t.Cleanup(ts.Close)
		c.nodes[id] = &testNode{id: id, ts: ts, url: "http://" + ts.Listener.Addr().String()}
		urls[id] = c.nodes[id].url
	}
	f := factory(c.ids)
	for _, id := range c.ids {
		tn := c.nodes[id]
		h, err := runtime.Start(runtime.Config{ID: id, Peers: addrs, Listener: lns[id], Dir: t.TempDir(), Factory: f, Seed: 1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Stop() })
		cfg := Config{Self: id, Backend: h, Peers: urls, RequestTimeout: 2 * time.Second}
		tweak(&cfg, c.ids)
		api, err := New(cfg)
		require.NoError(t, err)
		tn.host, tn.api = h, api
		tn.ts.Config.Handler = api
		tn.ts.Start()
	}
	return c
}

// lockFactory builds lock servers.
func lockFactory(ids []nodes.NodeID) nodes.Factory {
	f, err := locks.NewServer(locks.Config{Servers: ids})
	if err != nil {
		panic(err)
	}
	return f
}

// queueFactory builds queue servers.
func queueFactory(ids []nodes.NodeID) nodes.Factory {
	f, err := queues.NewServer(queues.Config{Servers: ids})
	if err != nil {
		panic(err)
	}
	return f
}

// cacheFactory builds directory cache servers.
func cacheFactory(ids []nodes.NodeID) nodes.Factory {
	f, err := caches.NewServer(caches.Config{Nodes: ids, Capacity: 16})
	if err != nil {
		panic(err)
	}
	return f
}

// compositeFactory builds multi nodes running all three services.
func compositeFactory(ids []nodes.NodeID) nodes.Factory {
	f, err := multi.New(
		multi.Part{Name: partLocks, Factory: lockFactory(ids), Types: locks.ServerMessageTypes()},
		multi.Part{Name: partQueues, Factory: queueFactory(ids), Types: queues.ServerMessageTypes()},
		multi.Part{Name: partCaches, Factory: cacheFactory(ids), Types: caches.ServerMessageTypes()},
	)
	if err != nil {
		panic(err)
	}
	return f
}

// noFollow is an HTTP client that does not follow redirects.
var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// follow is an HTTP client that follows redirects (307 re-sends the body).
var follow = &http.Client{Timeout: 10 * time.Second}

// response is an HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as a JSON object.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %s", r.body)
	return m
}

// call sends method url with body (JSON-encoded unless it is a string or
// []byte, sent as is) and reads the answer.
func call(t *testing.T, client *http.Client, method, url string, body any) response {
	t.Helper()
	r, err := tryCall(client, method, url, body)
	require.NoError(t, err)
	return r
}

// tryCall is call for another goroutine than the test's: it returns its
// error instead of failing the test.
func tryCall(client *http.Client, method, url string, body any) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(enc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: out}, err
}

// callOK retries a call while it answers 503 (an election, a group being
// created), until a deadline; it returns the first other answer.
func callOK(t *testing.T, client *http.Client, method, url string, body any) response {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for {
		r := call(t, client, method, url, body)
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockLeader waits until one node's /status says it leads the lock group
// and the others agree, and returns it.
func (c *testCluster) lockLeader(t *testing.T) *testNode {
	t.Helper()
	var leader nodes.NodeID
	require.Eventually(t, func() bool {
		seen := map[string]int{}
		for _, id := range c.ids {
			r := call(t, noFollow, http.MethodGet, c.nodes[id].url+"/status", nil)
			if r.status != http.StatusOK {
				return false
			}
			l := r.json(t)["locks"].(map[string]any)
			seen[l["leader"].(string)]++
			if l["role"] == "leader" {
				leader = id
			}
		}
		return leader != "" && seen[string(leader)] == len(c.ids)
	}, 10*time.Second, 20*time.Millisecond, "no lock leader")
	return c.nodes[leader]
}

// others returns the nodes other than n.
func (c *testCluster) others(n *testNode) []*testNode {
	var out []*testNode
	for _, id := range c.ids {
		if id != n.id {
			out = append(out, c.nodes[id])
		}
	}
	return out
}

// num reads a JSON number field as a uint64.
func num(t *testing.T, m map[string]any, key string) uint64 {
	t.Helper()
	v, ok := m[key].(float64)
	require.True(t, ok, "field %q of %v is not a number", key, m)
	return uint64(v)
}

// sortedKeys returns m's keys, sorted.
func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
