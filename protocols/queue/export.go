package queue

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
)

// exportPlan is the sealed state laid out for Export: the entries in
// export order and where each chunk starts. It is derived from the frozen
// state, so it is computed once (per maxBytes) and not snapshotted.
type exportPlan struct {
	sources []*importSource // by name
	clients []*client       // by id
	dedup   []dedupKey      // by (queue, dedup id)
	msgs    []*message      // by id
	// maxBytes is the bound the chunks were cut for; starts[k] is the
	// entry index that begins chunk k.
	maxBytes int
	starts   []int
}

// Export returns chunk number chunk (from 0) of the sealed partition's
// state, and whether more chunks follow. It is an error to export a
// partition that is not sealed, a chunk beyond the last, or with maxBytes
// below 1.
//
// The state is laid out as one sequence of entries: the import sources by
// name, the clients by id, the dedup entries by (queue, dedup id), then
// every message of every queue, ready and in flight alike, by id. The
// sequence is cut greedily into chunks whose entries encode to at most
// maxBytes bytes (maxBytes above MaxWirePayload counts as MaxWirePayload),
// with at least one entry per chunk, so the tables travel first, in chunk
// 0 unless they are too large, and a chunk's Encode is at most maxBytes
// plus a header of at most len(Source) + 32 bytes, or one larger entry plus that
// header, always within MaxImportBytes. An empty partition has one empty
// chunk. The cut depends only on the sealed state and maxBytes, so every
// replica, and every call, returns the same chunks.
//
// The returned Import's Source is empty: the caller sets it to a name of
// the sealed group, the same for all its chunks. Payloads are shared with
// the Manager's state and must not be modified. A client's cached Result
// travels without payload; a cached delivery travels with Gone set (the
// message travels as ready, so the delivery is over in the new group).
// ExportChunks tells the number of chunks.
func (m *Manager) Export(chunk int, maxBytes int) (Import, bool, error) {
	if !m.sealed {
		return Import{}, false, fmt.Errorf("queue: Export chunk = %d: the partition is not sealed: apply a Seal first", chunk)
	}
	if maxBytes < 1 {
		return Import{}, false, fmt.Errorf("queue: Export maxBytes = %d: want at least 1", maxBytes)
	}
	p := m.exportPlan(min(maxBytes, MaxWirePayload))
	if chunk < 0 || chunk >= len(p.starts) {
		return Import{}, false, fmt.Errorf("queue: Export chunk = %d: want 0..%d", chunk, len(p.starts)-1)
	}
	lo, hi := p.starts[chunk], p.entries()
	if chunk+1 < len(p.starts) {
		hi = p.starts[chunk+1]
	}
	imp := Import{Chunk: uint32(chunk), Last: chunk == len(p.starts)-1}
	off := 0
	a, b := span(lo, hi, off, len(p.sources))
	for _, s := range p.sources[a:b] {
		imp.Sources = append(imp.Sources, exportSource(s))
	}
	off += len(p.sources)
	a, b = span(lo, hi, off, len(p.clients))
	for _, c := range p.clients[a:b] {
		imp.Clients = append(imp.Clients, exportClient(c))
	}
	off += len(p.clients)
	a, b = span(lo, hi, off, len(p.dedup))
	for _, k := range p.dedup[a:b] {
		imp.Dedup = append(imp.Dedup, m.exportDedup(k))
	}
	off += len(p.dedup)
	a, b = span(lo, hi, off, len(p.msgs))
	for _, msg := range p.msgs[a:b] {
		imp.Messages = append(imp.Messages, exportMessage(msg))
	}
	return imp, !imp.Last, nil
}

// ExportChunks returns the number of chunks Export(·, maxBytes) produces:
// chunks 0..n-1 exist, and a larger number is past the end. It is an error
// on a partition that is not sealed, or with maxBytes below 1.
func (m *Manager) ExportChunks(maxBytes int) (int, error) {
	if !m.sealed {
		return 0, fmt.Errorf("queue: ExportChunks maxBytes = %d: the partition is not sealed: apply a Seal first", maxBytes)
	}
	if maxBytes < 1 {
		return 0, fmt.Errorf("queue: ExportChunks maxBytes = %d: want at least 1", maxBytes)
	}
	return len(m.exportPlan(min(maxBytes, MaxWirePayload)).starts), nil
}

// span returns the part of entries [lo, hi) that falls in a list of n
// entries starting at entry off, as indexes into that list.
func span(lo, hi, off, n int) (int, int) {
	return min(max(lo-off, 0), n), min(max(hi-off, 0), n)
}

func (p *exportPlan) entries() int {
	return len(p.sources) + len(p.clients) + len(p.dedup) + len(p.msgs)
}

func exportSource(s *importSource) ImportedSource {
	return ImportedSource{Source: s.name, Next: s.next, Done: s.done}
}

// exportClient returns a client's entry as it travels: a cached delivery
// without its payload and Gone, since the importing group holds the
// message as ready and the delivery is over there.
func exportClient(c *client) ImportedClient {
	r := c.result
	if isDelivery(r) {
		r.Payload, r.Gone = nil, true
	}
	return ImportedClient{Client: c.id, LastSeq: c.lastSeq, Result: r}
}

func (m *Manager) exportDedup(k dedupKey) ImportedDedup {
	e := m.dedup[k]
	return ImportedDedup{Queue: k.queue, DedupID: k.id, ID: e.id, At: e.at}
}

func exportMessage(msg *message) ImportedMessage {
	return ImportedMessage{Queue: msg.q.name, ID: msg.id, Payload: msg.payload, Deliveries: msg.deliveries}
}

// exportPlan returns the plan for maxBytes, computing what is missing.
func (m *Manager) exportPlan(maxBytes int) *exportPlan {
	p := m.export
	if p == nil {
		p = &exportPlan{
			sources: slices.SortedFunc(maps.Values(m.sources), func(a, b *importSource) int { return cmp.Compare(a.name, b.name) }),
			clients: slices.SortedFunc(maps.Values(m.clients), func(a, b *client) int { return cmp.Compare(a.id, b.id) }),
			dedup:   slices.SortedFunc(maps.Keys(m.dedup), compareDedupKey),
			msgs:    make([]*message, 0, m.stats.Ready+m.stats.InFlight),
		}
		for _, name := range m.Queues() {
			p.msgs = append(p.msgs, m.queues[name].readyInOrder()...)
		}
		p.msgs = append(p.msgs, m.inflight.items...)
		slices.SortFunc(p.msgs, func(a, b *message) int { return cmp.Compare(a.id, b.id) })
		m.export = p
	}
	if p.starts != nil && p.maxBytes == maxBytes {
		return p
	}
	p.maxBytes, p.starts = maxBytes, []int{0}
	i, used := 0, 0
	add := func(size int) {
		if i > p.starts[len(p.starts)-1] && used+size > maxBytes {
			p.starts = append(p.starts, i)
			used = 0
		}
		used += size
		i++
	}
	for _, s := range p.sources {
		add(exportSource(s).size())
	}
	for _, c := range p.clients {
		add(exportClient(c).size())
	}
	for _, k := range p.dedup {
		add(m.exportDedup(k).size())
	}
	for _, msg := range p.msgs {
		add(exportMessage(msg).size())
	}
	if len(p.starts) > math.MaxUint32 {
		panic(fmt.Sprintf("queue: export of %d entries needs %d chunks, above %d", i, len(p.starts), uint64(math.MaxUint32)))
	}
	return p
}
