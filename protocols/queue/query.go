package queue

import (
	"maps"
	"slices"
)

// Depth returns the number of ready messages in the named queue.
func (m *Manager) Depth(name string) int {
	if q := m.queues[name]; q != nil {
		return q.ready()
	}
	return 0
}

// InFlight returns the number of delivered, unacked messages of the queue.
func (m *Manager) InFlight(name string) int {
	if q := m.queues[name]; q != nil {
		return q.inflight
	}
	return 0
}

// Queues returns the names of the queues holding messages, sorted.
func (m *Manager) Queues() []string { return slices.Sorted(maps.Keys(m.queues)) }

// Stats returns the partition's metrics.
func (m *Manager) Stats() Stats { return m.stats }
