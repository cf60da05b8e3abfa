package queue

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// MaxImportSources bounds the import-source table: beyond it, the sources
// that finished longest ago are forgotten, and an Import that would leave
// more unfinished sources than this is rejected with ErrInvalidImport.
const MaxImportSources = 1024

// MaxSourceBytes bounds an Import's Source: room for a queue name and the
// group's epoch.
const MaxSourceBytes = MaxNameBytes + 64

// importSource is the progress of one import source.
type importSource struct {
	name       string
	next       uint32 // the next chunk it must send
	done       bool   // its last chunk was applied
	finishedAt uint64 // the index that finished it, 0 while unfinished
}

// compareFinished orders finished sources by (finishedAt, name): the order
// in which they are forgotten.
func compareFinished(a, b *importSource) int {
	return cmp.Or(cmp.Compare(a.finishedAt, b.finishedAt), cmp.Compare(a.name, b.name))
}

// Sealed returns the epoch of the Seal that froze the partition, and
// whether one did.
func (m *Manager) Sealed() (epoch uint64, ok bool) { return m.sealEpoch, m.sealed }

// ImportNext returns the next chunk the import source must send, and
// whether its last chunk was applied (0, false for an unknown source).
func (m *Manager) ImportNext(source string) (next uint32, done bool) {
	if s := m.sources[source]; s != nil {
		return s.next, s.done
	}
	return 0, false
}

func (m *Manager) seal(epoch uint64) Result {
	if !m.sealed {
		m.sealed, m.sealEpoch = true, epoch
	}
	return Result{Status: StatusOK, ID: m.sealEpoch}
}

// importError is a rejection of an Import naming the field at fault.
func importError(field string, value any, why string) *Error {
	return fieldError(ErrInvalidImport, "Import", field, value, why)
}

// importChunk applies one chunk of an import, in order and exactly once
// per source (see Import). Whatever the outcome, the Result's ID is the
// next chunk expected from the source.
func (m *Manager) importChunk(c Import) Result {
	src := m.sources[c.Source]
	var next uint32
	if src != nil {
		next = src.next
	}
	reject := func(err *Error) Result {
		r := rejected(err)
		r.ID = uint64(next)
		return r
	}
	switch {
	case m.sealed:
		return reject(movedError("Import", m.sealEpoch))
	case c.Source == "" || len(c.Source) > MaxSourceBytes:
		return reject(importError("Source", fmt.Sprintf("%q", truncate(c.Source)), fmt.Sprintf("%d bytes, want 1..%d", len(c.Source), MaxSourceBytes)))
	case c.Chunk < next:
		return Result{Status: StatusOK, ID: uint64(next), Duplicate: true}
	case c.Chunk > next:
		return reject(fieldError(ErrImportGap, "Import", "Chunk", c.Chunk, fmt.Sprintf("source %q must send chunk %d next", truncate(c.Source), next)))
	case src != nil && src.done:
		return reject(importError("Chunk", c.Chunk, fmt.Sprintf("source %q finished with chunk %d", truncate(c.Source), next-1)))
	}
	if err := m.checkImport(c, src); err != nil {
		return reject(err)
	}
	for _, ic := range c.Clients {
		if cur := m.clients[ic.Client]; cur == nil || cur.lastSeq < ic.LastSeq {
			m.setClient(ic.Client, ic.LastSeq, ic.Result)
		}
	}
	for _, d := range c.Dedup {
		k := dedupKey{d.Queue, d.DedupID}
		if _, ok := m.dedup[k]; !ok {
			m.dedup[k] = dedupEntry{id: d.ID, at: d.At}
			m.dedupAge.push(dedupItem{key: k, dedupEntry: m.dedup[k]})
		}
	}
	for _, im := range c.Messages {
		if m.imported[im.ID] != nil {
			m.stats.ImportSkipped++
			continue
		}
		q := m.queue(im.Queue)
		msg := &message{id: im.ID, q: q, deliveries: im.Deliveries, hidx: -1}
		if len(im.Payload) > 0 {
			msg.payload = append(make([]byte, 0, len(im.Payload)), im.Payload...)
		}
		q.retry.push(msg)
		m.imported[im.ID] = msg
		m.stats.Imported++
		m.stats.Ready++
		m.stats.Bytes += uint64(len(msg.payload))
	}
	var finished []*importSource
	if src == nil {
		src = &importSource{name: c.Source}
		m.sources[c.Source] = src
	}
	src.next = c.Chunk + 1
	if c.Last {
		finished = append(finished, src)
	}
	for _, is := range c.Sources {
		if is.Source == c.Source {
			continue
		}
		s := m.sources[is.Source]
		if s == nil {
			s = &importSource{name: is.Source}
			m.sources[is.Source] = s
		}
		s.next = max(s.next, is.Next)
		if is.Done && !s.done {
			finished = append(finished, s)
		}
	}
	slices.SortFunc(finished, func(a, b *importSource) int { return cmp.Compare(a.name, b.name) })
	for _, s := range finished {
		s.done, s.finishedAt = true, m.index
		m.finished = append(m.finished, s)
	}
	for len(m.sources) > MaxImportSources && len(m.finished) > 0 {
		delete(m.sources, m.finished[0].name)
		m.finished[0] = nil
		m.finished = m.finished[1:]
	}
	return Result{Status: StatusOK, ID: uint64(src.next)}
}

// checkImport validates an Import chunk that is next in order for its
// source src (nil if new) before anything is applied.
func (m *Manager) checkImport(c Import, src *importSource) *Error {
	if c.Chunk == math.MaxUint32 {
		return importError("Chunk", c.Chunk, "no chunk can follow it")
	}
	for i, im := range c.Messages {
		f := fmt.Sprintf("Messages[%d]", i)
		if validQueue("Import", im.Queue) != nil {
			return importError(f+".Queue", fmt.Sprintf("%q", truncate(im.Queue)), fmt.Sprintf("%d bytes, want 1..%d", len(im.Queue), MaxNameBytes))
		}
		if err := m.checkImportedID(f+".ID", im.ID); err != nil {
			return err
		}
		if i > 0 && im.ID <= c.Messages[i-1].ID {
			return importError(f+".ID", im.ID, fmt.Sprintf("not above the previous id %d", c.Messages[i-1].ID))
		}
		if len(im.Payload) > MaxWirePayload {
			return importError(f+".Payload", fmt.Sprintf("%d bytes", len(im.Payload)), fmt.Sprintf("max %d", MaxWirePayload))
		}
	}
	for i, ic := range c.Clients {
		f := fmt.Sprintf("Clients[%d]", i)
		if ic.Client == "" || len(ic.Client) > MaxNameBytes || i > 0 && ic.Client <= c.Clients[i-1].Client {
			return importError(f+".Client", fmt.Sprintf("%q", truncate(string(ic.Client))), fmt.Sprintf("want 1..%d bytes, above the previous client", MaxNameBytes))
		}
		if ic.LastSeq == 0 {
			return importError(f+".LastSeq", 0, "sequence numbers start at 1")
		}
		if why := checkResult(ic.Result); why != "" {
			return importError(f+".Result", ic.Result.Status, why)
		}
		if len(ic.Result.Payload) > 0 {
			return importError(f+".Result.Payload", fmt.Sprintf("%d bytes", len(ic.Result.Payload)), "a cached Result travels without its payload")
		}
		if r := ic.Result.Receipt; r != 0 {
			if err := m.checkImportedID(f+".Result.Receipt", r); err != nil {
				return err
			}
		}
	}
	for i, d := range c.Dedup {
		f := fmt.Sprintf("Dedup[%d]", i)
		if validQueue("Import", d.Queue) != nil {
			return importError(f+".Queue", fmt.Sprintf("%q", truncate(d.Queue)), fmt.Sprintf("%d bytes, want 1..%d", len(d.Queue), MaxNameBytes))
		}
		if d.DedupID == "" || len(d.DedupID) > MaxNameBytes || i > 0 && compareDedupKey(dedupKey{c.Dedup[i-1].Queue, c.Dedup[i-1].DedupID}, dedupKey{d.Queue, d.DedupID}) >= 0 {
			return importError(f+".DedupID", fmt.Sprintf("%q", truncate(d.DedupID)), fmt.Sprintf("want 1..%d bytes, (Queue, DedupID) above the previous entry's", MaxNameBytes))
		}
		if err := m.checkImportedID(f+".ID", d.ID); err != nil {
			return err
		}
	}
	unfinished := len(m.sources) - len(m.finished)
	if src == nil && !c.Last {
		unfinished++
	} else if src != nil && c.Last {
		unfinished--
	}
	for i, is := range c.Sources {
		f := fmt.Sprintf("Sources[%d]", i)
		if is.Source == "" || len(is.Source) > MaxSourceBytes || i > 0 && is.Source <= c.Sources[i-1].Source {
			return importError(f+".Source", fmt.Sprintf("%q", truncate(is.Source)), fmt.Sprintf("want 1..%d bytes, above the previous source", MaxSourceBytes))
		}
		if is.Next == 0 {
			return importError(f+".Next", 0, "a known source has sent chunk 0")
		}
		if is.Source == c.Source {
			continue
		}
		if s := m.sources[is.Source]; s == nil && !is.Done {
			unfinished++
		} else if s != nil && !s.done && is.Done {
			unfinished--
		}
	}
	if unfinished > MaxImportSources {
		return importError("Source", fmt.Sprintf("%q", truncate(c.Source)), fmt.Sprintf("%d unfinished import sources, max %d", unfinished, MaxImportSources))
	}
	return nil
}

// checkImportedID checks that an imported id was made by an older
// placement: a prefix below this group's and a log index of at least 1.
func (m *Manager) checkImportedID(field string, id uint64) *Error {
	p, idx := splitID(id)
	if idx == 0 || p >= m.cfg.IDPrefix {
		return importError(field, id, fmt.Sprintf("prefix %d index %d: want a prefix below this group's %d and an index from 1", p, idx, m.cfg.IDPrefix))
	}
	return nil
}

// checkResult returns why an imported cached Result could not be encoded
// and restored as it is, or "".
func checkResult(r Result) string {
	switch {
	case r.Status < StatusOK || r.Status > StatusRejected:
		return "unknown status"
	case (r.Err != nil) != (r.Status == StatusRejected):
		return "Err must be set exactly when rejected"
	case len(r.Payload) > MaxWirePayload:
		return fmt.Sprintf("payload of %d bytes, max %d", len(r.Payload), MaxWirePayload)
	case r.Gone && (!isDelivery(r) || len(r.Payload) > 0):
		return "Gone is set only on a delivery (StatusOK, a Receipt) without payload"
	}
	if r.Err != nil {
		if _, ok := sentinelOf(r.Err); !ok {
			return "Err wraps no sentinel of the package"
		}
		if len(r.Err.Error()) > MaxWireString {
			return fmt.Sprintf("error message of %d bytes, max %d", len(r.Err.Error()), MaxWireString)
		}
	}
	return ""
}

// UnfinishedSources returns, sorted, the import sources whose last chunk
// has not been applied yet: a group that is still receiving a moved queue.
func (m *Manager) UnfinishedSources() []string {
	var out []string
	for name, s := range m.sources { //det:ordered sorted below
		if !s.done {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
