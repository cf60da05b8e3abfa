package lockcompare

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// diskCounters are cumulative block-device counters from /proc/diskstats,
// summed over the whole disks of /sys/block (not loop or ram devices): the
// machine's, so other processes' I/O counts too.
type diskCounters struct {
	writes  uint64 // write requests completed
	flushes uint64 // flush requests completed (what an fsync ends in)
}

// readDisk reads the counters; ok is false where the kernel does not
// report them (no procfs, or a kernel older than 5.5 without flushes).
func readDisk() (c diskCounters, ok bool) {
	disks, err := os.ReadDir("/sys/block")
	if err != nil {
		return c, false
	}
	whole := map[string]bool{}
	for _, d := range disks {
		if n := d.Name(); !strings.HasPrefix(n, "loop") && !strings.HasPrefix(n, "ram") {
			whole[n] = true
		}
	}
	f, err := os.Open("/proc/diskstats")
	if err != nil {
		return c, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// major minor name, then 17 counters; the 16th is flushes completed.
		if len(fs) < 3+16 || !whole[fs[2]] {
			continue
		}
		w, err1 := strconv.ParseUint(fs[3+4], 10, 64)
		fl, err2 := strconv.ParseUint(fs[3+15], 10, 64)
		if err1 != nil || err2 != nil {
			return c, false
		}
		c.writes += w
		c.flushes += fl
		ok = true
	}
	return c, ok && sc.Err() == nil
}
