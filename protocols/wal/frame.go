package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// headerBytes is the size of a frame header: length (4), CRC (4), sequence
// number (8) and type (1). The package documentation draws the layout.
const headerBytes = 17

// castagnoli is the CRC32-C table; hash/crc32 uses the CPU's CRC32
// instruction for it where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends the frame of record seq to dst and returns the
// extended slice.
func appendFrame(dst []byte, seq uint64, typ RecordType, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // CRC, filled in below
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = append(dst, byte(typ))
	dst = append(dst, payload...)
	f := dst[start:]
	binary.LittleEndian.PutUint32(f[4:8], frameCRC(f))
	return dst
}

// frameCRC is the CRC32-C of a whole frame f minus its CRC field: the
// length, then the sequence number, type and payload.
func frameCRC(f []byte) uint32 {
	c := crc32.Update(0, castagnoli, f[0:4])
	return crc32.Update(c, castagnoli, f[8:])
}

// frameStatus is the verdict on one frame.
type frameStatus uint8

const (
	// frameOK is an intact frame carrying the expected sequence number.
	frameOK frameStatus = iota
	// frameBad is a frame that is cut short, has an impossible length or
	// fails its CRC: a torn write or damage.
	frameBad
	// frameMisplaced is an intact frame (its CRC matches) that carries
	// another sequence number than its position demands, or type 0: a
	// record from elsewhere, never a torn write.
	frameMisplaced
)

// frame is one decoded frame. size, typ and payload are set only when
// status is frameOK; reason only when it is not.
type frame struct {
	status  frameStatus
	size    int
	typ     RecordType
	payload []byte // aliases the buffer the frame was decoded from
	reason  string
}

// decodeFrame decodes the frame at b[off:], which must carry sequence
// number want. It never reads outside b and never allocates on success.
func decodeFrame(b []byte, off int, want uint64) frame {
	if off < 0 || off > len(b) {
		panic(fmt.Sprintf("wal: decode at offset %d of a %d-byte buffer", off, len(b)))
	}
	rest := b[off:]
	if len(rest) < headerBytes {
		return frame{status: frameBad, reason: fmt.Sprintf("short header: %d of %d bytes", len(rest), headerBytes)}
	}
	n := binary.LittleEndian.Uint32(rest[0:4])
	if n > RecordBytesLimit {
		return frame{status: frameBad, reason: fmt.Sprintf("length %d exceeds the record limit %d", n, RecordBytesLimit)}
	}
	size := headerBytes + int(n)
	if size > len(rest) {
		return frame{status: frameBad, reason: fmt.Sprintf("short payload: %d-byte frame, %d bytes left in the file", size, len(rest))}
	}
	f := rest[:size]
	stored, computed := binary.LittleEndian.Uint32(f[4:8]), frameCRC(f)
	if stored != computed {
		return frame{status: frameBad, reason: fmt.Sprintf("CRC mismatch: stored %#08x, computed %#08x", stored, computed)}
	}
	seq, typ := binary.LittleEndian.Uint64(f[8:16]), RecordType(f[16])
	if seq != want || typ == 0 {
		return frame{status: frameMisplaced, reason: fmt.Sprintf("intact record carries seq %d and type %d where seq %d belongs", seq, typ, want)}
	}
	return frame{status: frameOK, size: size, typ: typ, payload: f[headerBytes:]}
}

// validFrameAfter looks for an intact frame starting anywhere in b after
// off, where a frame for sequence number want failed. A frame that follows
// it at offset p can only carry a sequence number in
// [want, want + (p-off)/headerBytes], since every record takes at least
// headerBytes; checking that range before the CRC keeps the scan linear on
// garbage. It returns the offset of the first such frame.
func validFrameAfter(b []byte, off int, want uint64) (int, bool) {
	for p := off + 1; p+headerBytes <= len(b); p++ {
		f := b[p:]
		seq := binary.LittleEndian.Uint64(f[8:16])
		if seq < want || seq-want > uint64((p-off)/headerBytes) || f[16] == 0 {
			continue
		}
		n := binary.LittleEndian.Uint32(f[0:4])
		if n > RecordBytesLimit || headerBytes+int(n) > len(f) {
			continue
		}
		if frameCRC(f[:headerBytes+int(n)]) == binary.LittleEndian.Uint32(f[4:8]) {
			return p, true
		}
	}
	return 0, false
}

// segmentName is the file name of the segment whose first record is first.
func segmentName(prefix string, first uint64) string {
	return fmt.Sprintf("%s-%016x.log", prefix, first)
}

// parseSegmentName returns the first sequence number a segment name
// carries, and false if name is not a segment of the log named prefix
// (another component's file on the same Disk).
func parseSegmentName(prefix, name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ".log")
	if !ok || len(digits) != 16 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, false
		}
	}
	first, err := strconv.ParseUint(digits, 16, 64)
	if err != nil {
		panic(fmt.Sprintf("wal: 16 lower-case hex digits %q did not parse: %v", digits, err))
	}
	return first, true
}
