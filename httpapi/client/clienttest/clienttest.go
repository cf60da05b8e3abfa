// Package clienttest starts a real distsync cluster inside a test process
// (cluster.StartProcess for every node, on loopback ports), for the tests
// of the client and of what is built on it.
package clienttest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/nodes"
)

// Cluster is a local cluster whose nodes run in the test process.
type Cluster struct {
	// Path is the cluster file.
	Path string
	// File is the cluster file, loaded.
	File *cluster.File
	// Endpoints are the nodes' HTTP base URLs, in node order.
	Endpoints []string

	t     testing.TB
	procs map[nodes.NodeID]*cluster.Process
}

// Start starts an n-node cluster running every service, waits until every
// node is healthy and the nodes agree on a lock leader, and stops it when
// the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	var lastErr error
	for try := 0; try < 3; try++ { // a free port may be taken before we listen
		c, err := start(t, n)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("clienttest: starting a %d-node cluster: %v", n, lastErr)
	return nil
}

func start(t testing.TB, n int) (*Cluster, error) {
	base, err := cluster.FreeBasePort(n)
	if err != nil {
		return nil, err
	}
	path, err := cluster.WriteLocal(cluster.LocalSpec{Nodes: n, Dir: t.TempDir(), BasePort: base})
	if err != nil {
		return nil, err
	}
	f, err := cluster.Load(path)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Path: path, File: f, t: t, procs: map[nodes.NodeID]*cluster.Process{}}
	for i := range f.Nodes {
		id := f.Nodes[i].ID
		p, err := cluster.StartProcess(f, id, cluster.Options{})
		if err != nil {
			c.stopAll()
			return nil, err
		}
		c.procs[id] = p
		c.Endpoints = append(c.Endpoints, f.URL(&f.Nodes[i]))
	}
	t.Cleanup(c.stopAll)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	if err := cluster.WaitHealthy(ctx, f, hc); err != nil {
		return nil, err
	}
	if err := c.waitLockLeader(ctx, hc); err != nil {
		return nil, err
	}
	return c, nil
}

// waitLockLeader waits until every node names the same lock leader.
func (c *Cluster) waitLockLeader(ctx context.Context, hc *http.Client) error {
	for {
		seen := map[string]int{}
		for _, e := range c.Endpoints {
			seen[lockLeader(ctx, hc, e)]++
		}
		for l, k := range seen {
			if l != "" && k == len(c.Endpoints) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no lock leader all nodes agree on: %w (seen %v)", ctx.Err(), seen)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockLeader is the lock leader node e's /status names ("" if none).
func lockLeader(ctx context.Context, hc *http.Client, e string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e+"/status", nil)
	if err != nil {
		return ""
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Locks *struct {
			Leader string `json:"leader"`
		} `json:"locks"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || st.Locks == nil {
		return ""
	}
	return st.Locks.Leader
}

// LockLeader returns the endpoint of the lock leader the first node that
// knows one names ("" if none does).
func (c *Cluster) LockLeader() string {
	hc := &http.Client{Timeout: 2 * time.Second}
	for _, e := range c.Endpoints {
		if l := lockLeader(context.Background(), hc, e); l != "" {
			n, err := c.File.Node(nodes.NodeID(l))
			if err == nil {
				return c.File.URL(n)
			}
		}
	}
	return ""
}

// StopNode stops the node serving endpoint (a clean shutdown: its
// listeners close, so requests to it fail to connect).
func (c *Cluster) StopNode(endpoint string) {
	c.t.Helper()
	for id, p := range c.procs {
		if c.File.URL(p.Node) == endpoint {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.Stop(ctx); err != nil {
				c.t.Errorf("clienttest: stopping %s: %v", id, err)
			}
			delete(c.procs, id)
			return
		}
	}
	c.t.Fatalf("clienttest: no running node serves %s", endpoint)
}

// stopAll stops every node still running.
func (c *Cluster) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for id, p := range c.procs {
		_ = p.Stop(ctx)
		delete(c.procs, id)
	}
}
