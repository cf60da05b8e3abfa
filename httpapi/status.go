package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/mesi"
)

// Part names of the services in a composite node (nodes/multi).
const (
	partLocks  = "locks"
	partQueues = "queues"
	partCaches = "caches"
)

// composite is a node hosting several services, such as a *multi.Node.
type composite interface {
	Part(name string) nodes.Node
}

// servicePart finds a service's node inside n: n itself if it is a T, else
// the part named name of a composite. Call it on the event loop (in Do).
func servicePart[T nodes.Node](n nodes.Node, name string) (T, bool) {
	if t, ok := n.(T); ok {
		return t, true
	}
	if c, ok := n.(composite); ok {
		if p := c.Part(name); p != nil {
			t, ok := p.(T)
			return t, ok
		}
	}
	var zero T
	return zero, false
}

// errNoPart: the node does not host a service the configuration names.
func errNoPart(name string) error {
	return fmt.Errorf("the node hosts no %s server (configuration mismatch)", name)
}

// onService runs fn on the event loop with the node's T, the service
// named name.
func onService[T nodes.Node](ctx context.Context, b Backend, name string, fn func(T)) error {
	var missing bool
	err := b.Do(ctx, func(n nodes.Node, _ nodes.Env) {
		t, ok := servicePart[T](n, name)
		if !ok {
			missing = true
			return
		}
		fn(t)
	})
	if err == nil && missing {
		err = errNoPart(name)
	}
	return err
}

// snapshot is what /status and the metrics read of the node, in one call.
type snapshot struct {
	locks  *locks.Status
	queues *queueSnapshot
	caches *cacheSnapshot
}

type queueSnapshot struct {
	epoch   uint64
	members []nodes.NodeID
	queues  []queues.QueueStat
}

type cacheSnapshot struct {
	protocol string
	capacity int
	states   [4]int // lines by mesi.State
	stats    mesi.Stats
	lost     uint64
}

// snapshot reads the configured services' state on the event loop.
func (srv *Server) snapshot(ctx context.Context) (snapshot, error) {
	var snap snapshot
	var missing string
	err := srv.s.Backend.Do(ctx, func(n nodes.Node, _ nodes.Env) {
		if srv.s.Locks != nil {
			ls, ok := servicePart[*locks.Server](n, partLocks)
			if !ok {
				missing = partLocks
				return
			}
			st := ls.Status()
			snap.locks = &st
		}
		if srv.s.Queues != nil {
			qs, ok := servicePart[*queues.Server](n, partQueues)
			if !ok {
				missing = partQueues
				return
			}
			snap.queues = &queueSnapshot{epoch: qs.Epoch(), members: qs.Members(), queues: qs.QueueStats()}
		}
		if srv.s.Caches != nil {
			cs, ok := servicePart[*caches.Server](n, partCaches)
			if !ok || cs.Protocol() == nil {
				missing = partCaches
				return
			}
			p := cs.Protocol()
			snap.caches = &cacheSnapshot{protocol: p.Name(), capacity: p.Cache().Capacity(),
				states: p.Cache().States(), stats: p.Stats(), lost: p.LostWrites()}
		}
	})
	if err == nil && missing != "" {
		err = errNoPart(missing)
	}
	return snap, err
}

// status answers GET /status.
func (srv *Server) status(w http.ResponseWriter, r *http.Request) *apiError {
	ctx, cancel := srv.withTimeout(r.Context())
	defer cancel()
	snap, err := srv.snapshot(ctx)
	if err != nil {
		return asAPIError(err)
	}
	body := apitypes.Status{Node: string(srv.s.Self), Services: srv.s.services}
	if l := snap.locks; l != nil {
		body.Locks = &apitypes.LockStatus{
			Role: l.Role.String(), Term: l.Term, Leader: string(l.Leader),
			CommitIndex: l.Commit, AppliedIndex: l.Applied, LeaderChanges: l.LeaderChanges,
			Sessions: l.Locks.Sessions, ActiveLocks: l.Locks.ActiveLocks,
			WaitingRequests: l.Locks.Waiting, DeadlocksDetected: l.Locks.Deadlocks,
			Servers: nodeIDs(srv.s.Locks.Servers),
		}
	}
	if q := snap.queues; q != nil {
		qs := make([]apitypes.QueueStat, 0, len(q.queues))
		for _, st := range q.queues {
			qs = append(qs, apitypes.QueueStat{Queue: st.Queue, GroupEpoch: st.Group.Epoch, Depth: st.Depth, InFlight: st.InFlight})
		}
		body.Queues = &apitypes.QueueStatus{RingEpoch: q.epoch, Members: nodeIDs(q.members), LedQueues: qs}
	}
	if c := snap.caches; c != nil {
		body.Caches = &apitypes.CacheStatus{
			Protocol: c.protocol, Capacity: c.capacity, Lines: linesByState(c.states),
			Hits: c.stats.Hits, Misses: c.stats.Misses, HitRate: hitRate(c.stats),
			Evictions: c.stats.Evictions, CoherenceMessages: c.stats.Messages, LostWrites: c.lost,
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// nodeIDs converts ids to strings (nil stays nil: JSON null, as before).
func nodeIDs(ids []nodes.NodeID) []string {
	if ids == nil {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// linesByState names the line counts by state: "M", "E", "S", "I".
func linesByState(states [4]int) map[string]int {
	out := make(map[string]int, len(states))
	for st, n := range states {
		out[mesi.State(st).String()] = n
	}
	return out
}

// hitRate is hits / (hits + misses), 0 before any operation.
func hitRate(st mesi.Stats) float64 {
	if st.Hits+st.Misses == 0 {
		return 0
	}
	return float64(st.Hits) / float64(st.Hits+st.Misses)
}
