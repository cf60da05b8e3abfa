package hashring

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// Position is a point on the ring, a 128-bit unsigned integer split into
// its high and low 64 bits. Positions compare as unsigned 128-bit numbers
// (Hi first, then Lo); the ring runs from 0 to 2^128-1 and wraps around.
type Position struct {
	Hi, Lo uint64
}

// Compare returns -1, 0 or +1 as p is below, equal to or above q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Hi < q.Hi:
		return -1
	case p.Hi > q.Hi:
		return 1
	case p.Lo < q.Lo:
		return -1
	case p.Lo > q.Lo:
		return 1
	}
	return 0
}

// Bytes returns p as 16 big-endian bytes, the layout of an MD5 digest.
func (p Position) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], p.Hi)
	binary.BigEndian.PutUint64(b[8:], p.Lo)
	return b
}

// String returns p as 32 hexadecimal digits.
func (p Position) String() string { return fmt.Sprintf("%016x%016x", p.Hi, p.Lo) }

// PositionFromBytes reads 16 big-endian bytes (an MD5 digest) as a
// Position.
func PositionFromBytes(b [16]byte) Position {
	return Position{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// Hash places a string on the ring. It must be a pure function of s: the
// same string always gets the same position, in every process.
type Hash interface {
	// Name is the hash's name on the command line ("md5", "xxhash").
	Name() string
	// Position returns where s lies on the ring.
	Position(s string) Position
}

// MD5 is the original design's hash and the default: the 16-byte MD5
// digest of the string read as a big-endian 128-bit number.
var MD5 Hash = md5Hash{}

// XXHash is the fast option: the 64-bit xxHash (XXH64, seed 0) of the
// string in the high 64 bits of the position and zero in the low 64 bits.
// Positions are then multiples of 2^64; with 64 bits of hash, two virtual
// nodes collide with probability about NV²/2^65, which is negligible, and
// collisions are resolved like any other (see Ring). It places keys
// differently from MD5: a ring's hash cannot change under live data.
var XXHash Hash = xxHash{}

type md5Hash struct{}

func (md5Hash) Name() string { return "md5" }

func (md5Hash) Position(s string) Position { return PositionFromBytes(md5.Sum([]byte(s))) }

type xxHash struct{}

func (xxHash) Name() string { return "xxhash" }

func (xxHash) Position(s string) Position { return Position{Hi: xxhash.Sum64String(s)} }

// Hashes lists the built-in hashes by name, in a fixed order.
var Hashes = []Hash{MD5, XXHash}

// HashByName returns the built-in hash called name ("md5" or "xxhash").
func HashByName(name string) (Hash, error) {
	for _, h := range Hashes {
		if h.Name() == name {
			return h, nil
		}
	}
	return nil, fmt.Errorf("hashring: hash %q: unknown (want md5 or xxhash)", name)
}
