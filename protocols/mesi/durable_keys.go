package mesi

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// Per-key records of the durable state (see Durable). A record is
//
//	version  1 byte: homeStateVersion (Directory) or memoryStateVersion
//	         (Broadcast), the version of the snapshot encoding whose
//	         per-key fields it shares
//	key      uvarint length, then the key's bytes (not empty)
//	present  1 byte: 1 if the key's state follows, 0 if the key has none
//	         (the record deletes it)
//	state    if present: the key's fields exactly as HomeState (or
//	         MemoryState) encodes them after the key
//
// Entries never disappear from a Directory or a Broadcast store today, so
// the records AppendKeyRecord writes always have present = 1; the
// deleting form keeps the encoding total (a key with no entry has a
// record too) and RestoreKeyRecord honours it.

// DirtyKeys is DirtyHomeKeys.
func (d *Directory) DirtyKeys() []string { return d.DirtyHomeKeys() }

// AppendKeyRecord is AppendHomeEntry.
func (d *Directory) AppendKeyRecord(dst []byte, key string) []byte {
	return d.AppendHomeEntry(dst, key)
}

// RestoreKeyRecord is RestoreHomeEntry.
func (d *Directory) RestoreKeyRecord(b []byte) error { return d.RestoreHomeEntry(b) }

// markDirty notes that key's home entry may have changed.
func (d *Directory) markDirty(key string) { d.dirtyKeys[key] = struct{}{} }

// DirtyHomeKeys returns, sorted, the keys whose home entry may have
// changed since the last DirtyHomeKeys, HomeState or RestoreHome (every
// key whose entry did change is among them), and forgets them: DurableDirty
// is false afterwards. A message for the home side dirties its key; a
// Reset from x dirties the keys whose entry mentions x; Restart dirties
// every key.
func (d *Directory) DirtyHomeKeys() []string {
	if len(d.dirtyKeys) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(d.dirtyKeys))
	clear(d.dirtyKeys)
	return keys
}

// AppendHomeEntry appends to dst the record of key's home entry (see the
// format above): the fields HomeState encodes for it, or, if the home
// side has no entry for key, a record that deletes it. It does not change
// the dirty keys.
func (d *Directory) AppendHomeEntry(dst []byte, key string) []byte {
	dst = append(dst, homeStateVersion)
	dst = appendString(dst, key)
	e := d.entries[key]
	if e == nil {
		return append(dst, 0)
	}
	return appendEntry(append(dst, 1), e)
}

// RestoreHomeEntry sets one key's home entry to what an AppendHomeEntry
// record holds (or deletes it), leaving every other key as it is. The
// record must be whole and valid, as RestoreHome demands of a snapshot;
// the error wraps ErrCorrupt and names the field, and the home side is
// then unchanged. It does not make the key dirty: replaying records
// rebuilds a state already on disk.
func (d *Directory) RestoreHomeEntry(b []byte) error {
	r := reader{buf: b}
	if v := r.byte("home_record.version"); r.err == nil && v != homeStateVersion {
		r.fail("home_record.version", fmt.Sprintf("%d, want %d", v, homeStateVersion))
	}
	k := r.string("home_record.key", d.cfg.MaxKeyBytes)
	if r.err == nil && k == "" {
		r.fail("home_record.key", "empty")
	}
	present := r.bool("home_record.present")
	var e *entry
	if present {
		e = r.entry(d.cfg)
	}
	if r.err == nil && r.off != len(r.buf) {
		r.fail("home_record", fmt.Sprintf("%d trailing bytes", len(r.buf)-r.off))
	}
	if r.err != nil {
		return r.err
	}
	if present {
		d.entries[k] = e
	} else {
		delete(d.entries, k)
	}
	return nil
}

// involves reports whether a Reset from x may change the entry (see
// homeReset): x is its owner, a sharer, invalidated, awaited, the owner
// or requester of its forwarded request, or the sender of a queued
// request; or the entry is in S with no sharer and not busy, which any
// Reset turns into I.
func (e *entry) involves(x NodeID) bool {
	in := func(s []NodeID) bool { _, ok := slices.BinarySearch(s, x); return ok }
	switch w := e.busy; {
	case e.owner == x, in(e.sharers), in(e.invalidated), in(e.awaiting):
		return true
	case w != nil && (w.on == x || w.req == x):
		return true
	case w == nil && e.state == DirS && len(e.sharers) == 0:
		return true
	}
	return slices.ContainsFunc(e.queue, func(m Message) bool { return m.From == x })
}

// DirtyKeys is DirtyMemoryKeys.
func (b *Broadcast) DirtyKeys() []string { return b.DirtyMemoryKeys() }

// AppendKeyRecord is AppendMemoryEntry.
func (b *Broadcast) AppendKeyRecord(dst []byte, key string) []byte {
	return b.AppendMemoryEntry(dst, key)
}

// RestoreKeyRecord is RestoreMemoryEntry.
func (b *Broadcast) RestoreKeyRecord(p []byte) error { return b.RestoreMemoryEntry(p) }

// DirtyMemoryKeys returns, sorted, the keys the memory node stored a
// MemWrite for since the last DirtyMemoryKeys, MemoryState or
// RestoreMemory, and forgets them (always none on a cache node).
func (b *Broadcast) DirtyMemoryKeys() []string {
	if len(b.dirtyKeys) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(b.dirtyKeys))
	clear(b.dirtyKeys)
	return keys
}

// AppendMemoryEntry appends to dst the record of key in the store (see
// the format above): its value and version as MemoryState encodes them,
// or, if the store has no such key, a record that deletes it.
func (b *Broadcast) AppendMemoryEntry(dst []byte, key string) []byte {
	dst = append(dst, memoryStateVersion)
	dst = appendString(dst, key)
	w, ok := b.store[key]
	if !ok {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = appendString(dst, string(w.Value))
	return binary.AppendUvarint(dst, w.Version)
}

// RestoreMemoryEntry sets one key of the store to what an
// AppendMemoryEntry record holds (or deletes it). The error wraps
// ErrCorrupt and names the field, and the store is then unchanged. It
// does not make the key dirty.
func (b *Broadcast) RestoreMemoryEntry(p []byte) error {
	r := reader{buf: p}
	if v := r.byte("memory_record.version"); r.err == nil && v != memoryStateVersion {
		r.fail("memory_record.version", fmt.Sprintf("%d, want %d", v, memoryStateVersion))
	}
	k := r.string("memory_record.key", b.cfg.MaxKeyBytes)
	if r.err == nil && k == "" {
		r.fail("memory_record.key", "empty")
	}
	present := r.bool("memory_record.present")
	var w Write
	if present {
		if v := r.string("memory_record.value", b.cfg.MaxValueBytes); v != "" {
			w.Value = []byte(v)
		}
		w.Version = r.uvarint("memory_record.version")
	}
	if r.err == nil && r.off != len(r.buf) {
		r.fail("memory_record", fmt.Sprintf("%d trailing bytes", len(r.buf)-r.off))
	}
	if r.err != nil {
		return r.err
	}
	if present {
		b.store[k] = w
	} else {
		delete(b.store, k)
	}
	return nil
}
