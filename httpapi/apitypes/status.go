package apitypes

// CachePutReply is the answer to PUT /cache/{key}.
type CachePutReply struct {
	Key     string `json:"key"`     // the key written
	Version uint64 `json:"version"` // the value's new version
}

// CacheDeleteReply is the answer to DELETE /cache/{key}: the key now holds
// a tombstone, written through the coherence protocol like a value.
type CacheDeleteReply struct {
	Deleted bool   `json:"deleted"` // always true
	Key     string `json:"key"`     // the key deleted
	Version uint64 `json:"version"` // the tombstone's version
}

// CacheValue is what GET /cache/{key} answers: the value is the body
// (application/octet-stream), Version and Hit come in the HeaderVersion
// and HeaderHit headers. It is not a JSON body.
type CacheValue struct {
	Key   string `json:"key"`   // the key read
	Value []byte `json:"value"` // the value (the answer's body)
	// Version is the value's version.
	Version uint64 `json:"version"`
	// Hit is true if the node served the value from its own cache.
	Hit bool `json:"hit"`
}

// Status is the answer to GET /status: the node and the state of each
// service it runs (a service it does not run is absent).
type Status struct {
	Caches   *CacheStatus `json:"caches,omitempty"` // the cache service, if the node runs it
	Locks    *LockStatus  `json:"locks,omitempty"`  // the lock service, if the node runs it
	Node     string       `json:"node"`             // the node's id
	Queues   *QueueStatus `json:"queues,omitempty"` // the queue service, if the node runs it
	Services []string     `json:"services"`         // the services the node runs
}

// LockStatus is the lock service's part of a Status: the node's view of
// the lock group's Raft state and the lock table's gauges.
type LockStatus struct {
	ActiveLocks       uint64 `json:"active_locks"`       // locks held (one per holder and resource)
	AppliedIndex      uint64 `json:"applied_index"`      // the last Raft entry applied
	CommitIndex       uint64 `json:"commit_index"`       // the Raft commit index
	DeadlocksDetected uint64 `json:"deadlocks_detected"` // cycles found in the wait-for graph
	// Leader is the lock group's leader as this node knows it ("" if
	// none).
	Leader        string `json:"leader"`
	LeaderChanges uint64 `json:"leader_changes"` // leaders seen since the node started
	// Role is "leader", "follower", "candidate" or "pre-candidate".
	Role string `json:"role"`
	// Servers are the lock group's members.
	Servers         []string `json:"servers"`
	Sessions        uint64   `json:"sessions"`         // live sessions
	Term            uint64   `json:"term"`             // the Raft term
	WaitingRequests uint64   `json:"waiting_requests"` // acquires queued for a lock
}

// QueueStatus is the queue service's part of a Status.
type QueueStatus struct {
	// LedQueues are the queues whose group this node leads.
	LedQueues []QueueStat `json:"led_queues"`
	// Members are the ring's members.
	Members   []string `json:"members"`
	RingEpoch uint64   `json:"ring_epoch"` // the hash ring's epoch
}

// QueueStat is one queue a node leads.
type QueueStat struct {
	Depth      int    `json:"depth"`       // messages ready
	GroupEpoch uint64 `json:"group_epoch"` // the epoch of the queue's group
	InFlight   int    `json:"in_flight"`   // messages delivered, not yet acked
	Queue      string `json:"queue"`       // the queue's name
}

// CacheStatus is the cache service's part of a Status.
type CacheStatus struct {
	Capacity          int     `json:"capacity"`           // lines the node caches
	CoherenceMessages uint64  `json:"coherence_messages"` // protocol messages the node sent
	Evictions         uint64  `json:"evictions"`          // lines pushed out by capacity
	HitRate           float64 `json:"hit_rate"`           // Hits / (Hits + Misses), 0 before any operation
	Hits              uint64  `json:"hits"`               // operations served locally
	// Lines counts the cached lines by MESI state: "M", "E", "S", "I".
	Lines      map[string]int `json:"lines"`
	LostWrites uint64         `json:"lost_writes"` // writes lost to the broadcast protocol's race
	Misses     uint64         `json:"misses"`      // operations that started a coherence transaction
	// Protocol is "directory" or "broadcast".
	Protocol string `json:"protocol"`
}
