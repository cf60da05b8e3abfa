package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the frame format version, the first byte after the length.
// A peer that receives another version closes the connection: mixed
// versions in one cluster are refused rather than misread.
const Version byte = 1

// FrameHeaderBytes is the size of a frame header: a 4-byte big-endian length
// (of the version byte plus the payload) and the version byte.
const FrameHeaderBytes = 5

// DefaultMaxFrameBytes bounds a frame's payload unless a transport sets its own.
const DefaultMaxFrameBytes = 4 << 20

// ErrFrameTooLarge reports a frame whose declared size exceeds the limit.
var ErrFrameTooLarge = errors.New("wire: frame over size limit")

// ErrBadVersion reports a frame of another format version.
var ErrBadVersion = errors.New("wire: unknown frame version")

// AppendFrame appends a frame holding payload to dst.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)+1))
	dst = append(dst, Version)
	return append(dst, payload...)
}

// SplitFrame decodes the first frame of b. It returns the frame's payload
// (a sub-slice of b, not a copy) and the bytes after the frame. It returns
// ErrShort if b does not yet hold a whole frame, so a stream reader can wait
// for more bytes.
func SplitFrame(b []byte, maxPayload int) (payload, rest []byte, err error) {
	if len(b) < FrameHeaderBytes {
		return nil, b, ErrShort
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 {
		return nil, b, errors.New("wire: frame length 0 has no version byte")
	}
	if uint64(n-1) > uint64(maxPayload) {
		return nil, b, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n-1, maxPayload)
	}
	if b[4] != Version {
		return nil, b, fmt.Errorf("%w: %d (want %d)", ErrBadVersion, b[4], Version)
	}
	end := 4 + int(n)
	if len(b) < end {
		return nil, b, ErrShort
	}
	return b[FrameHeaderBytes:end], b[end:], nil
}

// ReadFrame reads one frame from r into buf (grown if needed, never beyond
// maxPayload plus the header) and returns its payload, a sub-slice of the
// returned buffer. The size is checked before any allocation.
func ReadFrame(r io.Reader, buf []byte, maxPayload int) (payload, newBuf []byte, err error) {
	var hdr [FrameHeaderBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 {
		return nil, buf, errors.New("wire: frame length 0 has no version byte")
	}
	if uint64(n-1) > uint64(maxPayload) {
		return nil, buf, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n-1, maxPayload)
	}
	if hdr[4] != Version {
		return nil, buf, fmt.Errorf("%w: %d (want %d)", ErrBadVersion, hdr[4], Version)
	}
	size := int(n - 1)
	// Grow the buffer as the body arrives, at most readChunk ahead of what
	// was read, so a header that declares a large frame and then stalls
	// costs the reader little memory.
	buf = buf[:0]
	for len(buf) < size {
		want := min(size-len(buf), readChunk)
		if cap(buf)-len(buf) < want {
			grown := make([]byte, len(buf), min(size, max(2*cap(buf), len(buf)+want)))
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+got]
		if err != nil {
			return nil, buf, fmt.Errorf("wire: frame body of %d bytes, %d read: %w", size, len(buf), err)
		}
	}
	return buf, buf, nil
}

// readChunk bounds how far ReadFrame allocates ahead of the bytes it has.
const readChunk = 64 << 10
