package mesi

// Stats counts what one node's Directory or Broadcast did, on its cache
// side and its home (or memory) side. All counters only grow (Crash keeps
// them). The broadcast protocol's equivalents are given in brackets.
type Stats struct {
	// Hits counts client operations served from the local cache without a
	// message (a read of an S/E/M line, a write to an E/M line in
	// write-back mode).
	Hits uint64
	// Misses counts client operations that started a coherence
	// transaction (GetS or GetM) [a ReadReq or BInv broadcast, or a
	// write-through MemWrite].
	Misses uint64
	// Evictions counts lines pushed out of the cache by capacity
	// pressure, whatever their state.
	Evictions uint64
	// WriteBacks counts PutM messages carrying dirty (Modified) data:
	// M victims and write-through writes [MemWrite messages: M victims, M
	// lines downgraded by a ReadReq or dropped for a BInv, write-through
	// writes].
	WriteBacks uint64
	// Invalidations counts Inv messages this node's cache side received
	// (answered with an Inv-Ack whether or not it held the line) [BInv].
	Invalidations uint64
	// Fetches counts Data messages this node's home served from its
	// memory (backing store) [MemData messages of the memory node].
	Fetches uint64
	// Forwards counts Fwd-GetS and Fwd-GetM messages this node's home sent
	// to an owner [always 0].
	Forwards uint64
	// Messages counts every message this node emitted, to any node,
	// itself included.
	Messages uint64
}
