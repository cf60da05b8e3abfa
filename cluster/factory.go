package cluster

import (
	"fmt"
	"slices"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/multi"
	"github.com/distsync/distsync/nodes/queues"
)

// Factory builds the node process id runs: a composite (nodes/multi) of
// the services the cluster file gives it, each configured with the nodes
// that run the same service. Every node of a cluster builds its services
// from the same file, so they agree on their peers.
func (f *File) Factory(id nodes.NodeID) (nodes.Factory, error) {
	n, err := f.Node(id)
	if err != nil {
		return nil, err
	}
	var parts []multi.Part
	for _, svc := range Services {
		if !slices.Contains(n.Services, svc) {
			continue
		}
		p, err := f.part(svc)
		if err != nil {
			return nil, fmt.Errorf("cluster: node %s: %w", id, err)
		}
		parts = append(parts, p)
	}
	return multi.New(parts...)
}

// part builds the composite part of one service.
func (f *File) part(svc string) (multi.Part, error) {
	servers := f.Running(svc)
	switch svc {
	case ServiceLocks:
		fac, err := locks.NewServer(locks.Config{Servers: servers, Tick: f.Locks.Tick.D()})
		return multi.Part{Name: svc, Factory: fac, Types: locks.ServerMessageTypes()}, err
	case ServiceQueues:
		fac, err := queues.NewServer(queues.Config{Servers: servers, Replicas: f.Queues.Replicas, Tick: f.Queues.Tick.D()})
		return multi.Part{Name: svc, Factory: fac, Types: queues.ServerMessageTypes()}, err
	case ServiceCaches:
		fac, err := caches.NewServer(f.CacheConfig())
		return multi.Part{Name: svc, Factory: fac, Types: caches.ServerMessageTypes()}, err
	}
	return multi.Part{}, fmt.Errorf("service %q unknown", svc)
}

// CacheConfig returns the cache nodes' configuration.
func (f *File) CacheConfig() caches.Config {
	return caches.Config{
		Nodes:         f.Running(ServiceCaches),
		Protocol:      f.Caches.Protocol,
		WriteThrough:  f.Caches.WritePolicy == "write-through",
		Capacity:      f.Caches.Capacity,
		MaxValueBytes: f.Caches.MaxValueBytes,
	}
}
