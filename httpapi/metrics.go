package httpapi

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/distsync/distsync/protocols/mesi"
	"github.com/distsync/distsync/protocols/raft"
)

// Metric names, all prefixed distsync_. The gauges and counters of the
// services are read from the node at scrape time (one Do per scrape); the
// latency histograms are observed by the handlers.
const (
	MetricUp                = "distsync_up"
	MetricActiveLocks       = "distsync_active_locks"
	MetricWaitingRequests   = "distsync_waiting_requests"
	MetricLockSessions      = "distsync_lock_sessions"
	MetricDeadlocks         = "distsync_deadlocks_detected_total"
	MetricLockAcquisition   = "distsync_lock_acquisition_seconds"
	MetricRaftTerm          = "distsync_raft_current_term"
	MetricRaftCommit        = "distsync_raft_commit_index"
	MetricRaftApplied       = "distsync_raft_applied_index"
	MetricRaftLeader        = "distsync_raft_is_leader"
	MetricRaftLeaderChanges = "distsync_raft_leader_changes_total"
	MetricQueueDepth        = "distsync_queue_depth"
	MetricInFlight          = "distsync_in_flight_messages"
	MetricRingEpoch         = "distsync_queue_ring_epoch"
	MetricEnqueueLatency    = "distsync_enqueue_latency_seconds"
	MetricDequeueLatency    = "distsync_dequeue_latency_seconds"
	MetricCacheHitRate      = "distsync_cache_hit_rate"
	MetricCacheHits         = "distsync_cache_hits_total"
	MetricCacheMisses       = "distsync_cache_misses_total"
	MetricCacheEvictions    = "distsync_cache_evictions_total"
	MetricCacheLines        = "distsync_cache_lines"
	MetricCoherenceMessages = "distsync_cache_coherence_messages_total"
)

// latencyBuckets span 100µs to ~6.5s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

// metrics are a server's Prometheus collectors.
type metrics struct {
	srv             *Server
	lockAcquisition prometheus.Histogram
	enqueueLatency  prometheus.Histogram
	dequeueLatency  prometheus.Histogram
	descs           map[string]*prometheus.Desc
}

// gaugeHelp describes the metrics read from the node: name -> help and
// label names.
var gaugeHelp = []struct {
	name, help string
	labels     []string
}{
	{MetricUp, "1 if the node's event loop answered this scrape, else 0.", nil},
	{MetricActiveLocks, "Locks held (one per holder and resource), as applied on this node.", nil},
	{MetricWaitingRequests, "Acquires queued for a lock, as applied on this node.", nil},
	{MetricLockSessions, "Live lock sessions, as applied on this node.", nil},
	{MetricDeadlocks, "Deadlock cycles detected in the wait-for graph.", nil},
	{MetricRaftTerm, "Current Raft term of the lock group on this node.", nil},
	{MetricRaftCommit, "Raft commit index of the lock group on this node.", nil},
	{MetricRaftApplied, "Index of the last lock-table entry applied on this node.", nil},
	{MetricRaftLeader, "1 if this node leads the lock group.", nil},
	{MetricRaftLeaderChanges, "Leaders of the lock group seen by this node since it started.", nil},
	{MetricQueueDepth, "Ready messages of each queue whose group this node leads.", []string{"queue"}},
	{MetricInFlight, "Delivered, unacked messages of each queue whose group this node leads.", []string{"queue"}},
	{MetricRingEpoch, "Latest queue ring epoch this node knows.", nil},
	{MetricCacheHitRate, "Cache operations served locally / all, since the node started.", nil},
	{MetricCacheHits, "Cache operations served from this node's cache.", nil},
	{MetricCacheMisses, "Cache operations that started a coherence transaction.", nil},
	{MetricCacheEvictions, "Cache lines evicted by capacity pressure.", nil},
	{MetricCacheLines, "Cache lines of this node by MESI state.", []string{"state"}},
	{MetricCoherenceMessages, "Coherence messages this node's cache emitted.", nil},
}

func newMetrics(srv *Server) *metrics {
	hist := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets})
	}
	m := &metrics{
		srv:             srv,
		lockAcquisition: hist(MetricLockAcquisition, "Time from an acquire request to its grant, waits included, seconds."),
		enqueueLatency:  hist(MetricEnqueueLatency, "Time to commit an enqueue, seconds."),
		dequeueLatency:  hist(MetricDequeueLatency, "Time to commit a dequeue, seconds."),
		descs:           map[string]*prometheus.Desc{},
	}
	for _, g := range gaugeHelp {
		m.descs[g.name] = prometheus.NewDesc(g.name, g.help, g.labels, nil)
	}
	return m
}

// register registers every collector, or none.
func (m *metrics) register(r prometheus.Registerer) error {
	cs := []prometheus.Collector{m.lockAcquisition, m.enqueueLatency, m.dequeueLatency, m}
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			return err
		}
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) {
	for _, c := range []prometheus.Collector{m.lockAcquisition, m.enqueueLatency, m.dequeueLatency, m} {
		r.Unregister(c)
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range gaugeHelp {
		ch <- m.descs[g.name]
	}
}

// Collect implements prometheus.Collector: it reads the node once.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), m.srv.s.RequestTimeout)
	defer cancel()
	snap, err := m.srv.snapshot(ctx)
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			m.srv.s.Logger.Warn("metrics: reading the node failed", "err", err)
		}
		m.emit(ch, MetricUp, prometheus.GaugeValue, 0)
		return
	}
	m.emit(ch, MetricUp, prometheus.GaugeValue, 1)
	if l := snap.locks; l != nil {
		m.emit(ch, MetricActiveLocks, prometheus.GaugeValue, float64(l.Locks.ActiveLocks))
		m.emit(ch, MetricWaitingRequests, prometheus.GaugeValue, float64(l.Locks.Waiting))
		m.emit(ch, MetricLockSessions, prometheus.GaugeValue, float64(l.Locks.Sessions))
		m.emit(ch, MetricDeadlocks, prometheus.CounterValue, float64(l.Locks.Deadlocks))
		m.emit(ch, MetricRaftTerm, prometheus.GaugeValue, float64(l.Term))
		m.emit(ch, MetricRaftCommit, prometheus.GaugeValue, float64(l.Commit))
		m.emit(ch, MetricRaftApplied, prometheus.GaugeValue, float64(l.Applied))
		m.emit(ch, MetricRaftLeader, prometheus.GaugeValue, boolValue(l.Role == raft.RoleLeader))
		m.emit(ch, MetricRaftLeaderChanges, prometheus.CounterValue, float64(l.LeaderChanges))
	}
	if q := snap.queues; q != nil {
		m.emit(ch, MetricRingEpoch, prometheus.GaugeValue, float64(q.epoch))
		for _, st := range q.queues {
			m.emit(ch, MetricQueueDepth, prometheus.GaugeValue, float64(st.Depth), st.Queue)
			m.emit(ch, MetricInFlight, prometheus.GaugeValue, float64(st.InFlight), st.Queue)
		}
	}
	if c := snap.caches; c != nil {
		m.emit(ch, MetricCacheHitRate, prometheus.GaugeValue, hitRate(c.stats))
		m.emit(ch, MetricCacheHits, prometheus.CounterValue, float64(c.stats.Hits))
		m.emit(ch, MetricCacheMisses, prometheus.CounterValue, float64(c.stats.Misses))
		m.emit(ch, MetricCacheEvictions, prometheus.CounterValue, float64(c.stats.Evictions))
		m.emit(ch, MetricCoherenceMessages, prometheus.CounterValue, float64(c.stats.Messages))
		for st, n := range c.states {
			m.emit(ch, MetricCacheLines, prometheus.GaugeValue, float64(n), mesi.State(st).String())
		}
	}
}

// emit sends one constant metric.
func (m *metrics) emit(ch chan<- prometheus.Metric, name string, kind prometheus.ValueType, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(m.descs[name], kind, v, labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
