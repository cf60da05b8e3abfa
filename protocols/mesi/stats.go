package mesi

// Stats counts what one node's Directory did, on its cache side and its
// home side. All counters only grow (Crash keeps them).
type Stats struct {
	// Hits counts client operations served from the local cache without a
	// message (a read of an S/E/M line, a write to an E/M line in
	// write-back mode).
	Hits uint64
	// Misses counts client operations that started a coherence
	// transaction (GetS or GetM).
	Misses uint64
	// Evictions counts lines pushed out of the cache by capacity
	// pressure, whatever their state.
	Evictions uint64
	// WriteBacks counts PutM messages carrying dirty (Modified) data:
	// M victims and write-through writes.
	WriteBacks uint64
	// Invalidations counts Inv messages this node's cache side received
	// (answered with an Inv-Ack whether or not it held the line).
	Invalidations uint64
	// Fetches counts Data messages this node's home served from its
	// memory (backing store).
	Fetches uint64
	// Forwards counts Fwd-GetS and Fwd-GetM messages this node's home sent
	// to an owner.
	Forwards uint64
	// Messages counts every message this node emitted, to any node,
	// itself included.
	Messages uint64
}
