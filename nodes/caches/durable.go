package caches

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/distsync/distsync/nodes"
)

// File names on a cache node's Disk.
const (
	bootFile = "boot" // the boot counter: the reliable endpoint's epoch
	// durableFile held the protocol's whole durable state (mesi.Durable),
	// rewritten after every event, before the log of store: read once if
	// there is no snapshot yet, then removed.
	durableFile = "durable"
	tmpSuffix   = ".tmp"
	// readTries is how often a file whose checksum fails is read again
	// (a read may be corrupted by an injected fault).
	readTries = 5
	// maxDurableBytes bounds the durable file read at boot.
	maxDurableBytes = 1 << 30
)

// errMissing reports a file that does not exist.
var errMissing = errors.New("file missing")

// readSealed reads a file written by writeSealed: its content after a
// 4-byte length and a 4-byte CRC-32C. A missing or empty file gives
// errMissing; a checksum failure is retried, then reported.
func readSealed(d nodes.Disk, name string) ([]byte, error) {
	names, err := d.List()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	found := false
	for _, n := range names {
		found = found || n == name
	}
	if !found {
		return nil, errMissing
	}
	f, err := d.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	size := f.Size()
	if size == 0 {
		return nil, errMissing
	}
	if size < 8 || size > maxDurableBytes {
		return nil, fmt.Errorf("%s: size %d not in [8, %d]", name, size, maxDurableBytes)
	}
	var last error
	for range readTries {
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
			last = fmt.Errorf("read %s: %w", name, err)
			continue
		}
		n := binary.LittleEndian.Uint32(buf)
		sum := binary.LittleEndian.Uint32(buf[4:])
		if int64(n) != size-8 || crc32.Checksum(buf[8:], castagnoli) != sum {
			last = fmt.Errorf("%s: length %d or checksum %08x does not match its %d bytes", name, n, sum, size-8)
			continue
		}
		return buf[8:], nil
	}
	return nil, last
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeSealed durably replaces the file name by content: it writes
// name.tmp (length, CRC-32C, content), syncs it and renames it over name.
func writeSealed(d nodes.Disk, name string, content []byte) error {
	tmp := name + tmpSuffix
	if err := d.Remove(tmp); err != nil {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	f, err := d.Open(tmp)
	if err != nil {
		return fmt.Errorf("open %s: %w", tmp, err)
	}
	buf := make([]byte, 8, 8+len(content))
	binary.LittleEndian.PutUint32(buf, uint32(len(content)))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(content, castagnoli))
	buf = append(buf, content...)
	if _, err := f.Append(buf); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := d.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s over %s: %w", tmp, name, err)
	}
	return nil
}

// nextBoot reads the boot counter (0 if missing), stores counter+1 durably
// and returns it: the epoch of this incarnation.
func nextBoot(d nodes.Disk) (uint64, error) {
	var n uint64
	b, err := readSealed(d, bootFile)
	switch {
	case errors.Is(err, errMissing):
	case err != nil:
		return 0, err
	case len(b) != 8:
		return 0, fmt.Errorf("%s: %d bytes, want 8", bootFile, len(b))
	default:
		n = binary.LittleEndian.Uint64(b)
	}
	n++
	if err := writeSealed(d, bootFile, binary.LittleEndian.AppendUint64(nil, n)); err != nil {
		return 0, err
	}
	return n, nil
}
