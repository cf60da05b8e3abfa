package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// errShort is reported when the input ends inside a field.
var errShort = errors.New("input too short")

// uvarintLen is the length of the canonical uvarint encoding of v.
func uvarintLen(v uint64) int { return 1 + (bits.Len64(v|1)-1)/7 }

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

func appendBytes(dst, b []byte) []byte {
	dst = appendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = appendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads the wire format from b, remembering the first error; every
// read after an error returns zero values, so callers check err once.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d: %s", field, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 1 {
		d.fail(field, "%v", errShort)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

// uvarint reads a canonical (shortest form) uvarint.
func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, "%v", errShort)
		return 0
	case n < 0:
		d.fail(field, "varint overflows 64 bits")
		return 0
	case n != uvarintLen(v):
		d.fail(field, "non-canonical varint (%d bytes for %d)", n, v)
		return 0
	}
	d.off += n
	return v
}

// bytes reads a length-prefixed byte string of at most limit bytes. The
// result aliases the decoder's buffer (its capacity clipped); an empty
// string decodes as nil.
func (d *decoder) bytes(field string, limit int) []byte {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.fail(field, "length %d exceeds limit %d", n, limit)
		return nil
	}
	if n > uint64(d.remaining()) {
		d.fail(field, "length %d exceeds remaining %d bytes", n, d.remaining())
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b
}

// minEntryBytes is the smallest encoded entry: term, index, type, length.
const minEntryBytes = 4

// entries reads a count-prefixed list of entries. The count is checked
// against MaxMessageEntries and against what the remaining input could
// hold, before anything is allocated.
func (d *decoder) entries() []Entry {
	n := d.uvarint("entry count")
	if d.err != nil || n == 0 {
		return nil
	}
	if n > MaxMessageEntries {
		d.fail("entry count", "%d exceeds limit %d", n, MaxMessageEntries)
		return nil
	}
	if n > uint64(d.remaining()/minEntryBytes) {
		d.fail("entry count", "%d entries cannot fit in %d bytes", n, d.remaining())
		return nil
	}
	ents := make([]Entry, n)
	for i := range ents {
		ents[i] = d.entry()
		if d.err != nil {
			return nil
		}
	}
	return ents
}

func (d *decoder) entry() Entry {
	var e Entry
	e.Term = d.uvarint("entry term")
	e.Index = d.uvarint("entry index")
	e.Type = EntryType(d.byte("entry type"))
	if d.err == nil && !e.Type.valid() {
		d.fail("entry type", "unknown entry type %d", e.Type)
	}
	e.Data = d.bytes("entry data", MaxEntryDataBytes)
	return e
}

func (d *decoder) snapshot() Snapshot {
	var s Snapshot
	s.Index = d.uvarint("snapshot index")
	s.Term = d.uvarint("snapshot term")
	s.Data = d.bytes("snapshot data", MaxSnapshotBytes)
	return s
}

// finish reports the decoder's error, or trailing bytes, wrapped with what.
func (d *decoder) finish(what string) error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("end", "%d trailing bytes", len(d.b)-d.off)
	}
	if d.err != nil {
		return fmt.Errorf("raft: unmarshal %s: %w", what, d.err)
	}
	return nil
}

// EncodedSize is the length of e's encoding by Marshal. Flow control
// (MaxSizePerMsg, MaxInflightBytes) counts entries by this size.
func (e *Entry) EncodedSize() int {
	return uvarintLen(e.Term) + uvarintLen(e.Index) + 1 + uvarintLen(uint64(len(e.Data))) + len(e.Data)
}

// Marshal appends e's encoding to dst: term, index, type, data. The node
// layer stores it as a WAL record.
func (e *Entry) Marshal(dst []byte) []byte {
	if len(e.Data) > MaxEntryDataBytes {
		panic(fmt.Sprintf("raft: marshal entry %d: %d data bytes exceed %d", e.Index, len(e.Data), MaxEntryDataBytes))
	}
	dst = appendUvarint(dst, e.Term)
	dst = appendUvarint(dst, e.Index)
	dst = append(dst, byte(e.Type))
	return appendBytes(dst, e.Data)
}

// UnmarshalEntry decodes exactly one entry written by Entry.Marshal. The
// result does not alias b.
func UnmarshalEntry(b []byte) (Entry, error) {
	d := decoder{b: append([]byte(nil), b...)}
	e := d.entry()
	if err := d.finish("entry"); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Marshal appends h's encoding to dst: term, vote, commit.
func (h *HardState) Marshal(dst []byte) []byte {
	dst = appendUvarint(dst, h.Term)
	dst = appendString(dst, string(h.Vote))
	return appendUvarint(dst, h.Commit)
}

// UnmarshalHardState decodes a HardState written by HardState.Marshal.
func UnmarshalHardState(b []byte) (HardState, error) {
	d := decoder{b: b}
	var h HardState
	h.Term = d.uvarint("term")
	h.Vote = NodeID(d.bytes("vote", MaxNodeIDBytes))
	h.Commit = d.uvarint("commit")
	if err := d.finish("hard state"); err != nil {
		return HardState{}, err
	}
	return h, nil
}

// Marshal appends s's encoding to dst: index, term, data.
func (s *Snapshot) Marshal(dst []byte) []byte {
	if len(s.Data) > MaxSnapshotBytes {
		panic(fmt.Sprintf("raft: marshal snapshot %d: %d bytes exceed %d", s.Index, len(s.Data), MaxSnapshotBytes))
	}
	dst = appendUvarint(dst, s.Index)
	dst = appendUvarint(dst, s.Term)
	return appendBytes(dst, s.Data)
}

// UnmarshalSnapshot decodes a Snapshot written by Snapshot.Marshal. The
// result does not alias b.
func UnmarshalSnapshot(b []byte) (Snapshot, error) {
	d := decoder{b: append([]byte(nil), b...)}
	s := d.snapshot()
	if err := d.finish("snapshot"); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}
