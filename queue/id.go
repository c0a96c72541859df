package queue

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"
)

// IDs are ULID-shaped: 128 bits, a 48-bit Unix millisecond timestamp then 80
// bits that start random and count up, written as 26 characters of Crockford
// base32. Their byte order is their numeric order, so a bbolt cursor walks
// jobs (and outbox events) in creation order.
//
// The generator never goes backwards: within one millisecond, or when the
// clock steps back (a Raspberry Pi has no RTC and may boot with an old time
// until NTP syncs), it increments the previous ID instead of reading the
// clock. Open seeds it with the largest ID on disk, so IDs stay unique and
// ordered across restarts.

const idLen = 26

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var crockfordDec = func() (d [256]byte) {
	for i := range d {
		d[i] = 0xff
	}
	for i := 0; i < len(crockford); i++ {
		d[crockford[i]] = byte(i)
		d[crockford[i]|0x20] = byte(i) // lower case
	}
	return d
}()

type idGen struct {
	mu   sync.Mutex
	last [16]byte
}

// next returns a new ID greater than every ID it returned or saw before.
func (g *idGen) next(now time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := uint64(now.UnixMilli())
	lastMs := uint64(g.last[0])<<40 | uint64(g.last[1])<<32 | uint64(binary.BigEndian.Uint32(g.last[2:6]))
	var id [16]byte
	if ms > lastMs {
		putMs(&id, ms)
		binary.BigEndian.PutUint16(id[6:8], uint16(rand.Uint32())&0x7fff) // top bit clear: room to count up
		binary.BigEndian.PutUint64(id[8:16], rand.Uint64())
	} else {
		id = g.last
		// Add one to the 80-bit tail; on the (theoretical) overflow, move to
		// the next millisecond.
		lo := binary.BigEndian.Uint64(id[8:16]) + 1
		binary.BigEndian.PutUint64(id[8:16], lo)
		if lo == 0 {
			hi := binary.BigEndian.Uint16(id[6:8]) + 1
			binary.BigEndian.PutUint16(id[6:8], hi)
			if hi == 0 {
				putMs(&id, lastMs+1)
			}
		}
	}
	g.last = id
	return encodeID(id)
}

// observe makes sure future IDs sort after id (an ID read from disk).
func (g *idGen) observe(id string) {
	b, ok := decodeID(id)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if string(b[:]) > string(g.last[:]) {
		g.last = b
	}
}

func putMs(id *[16]byte, ms uint64) {
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	binary.BigEndian.PutUint32(id[2:6], uint32(ms))
}

func encodeID(id [16]byte) string {
	// 128 bits in 26 characters: the first holds 3 bits, the others 5.
	hi := binary.BigEndian.Uint64(id[0:8])
	lo := binary.BigEndian.Uint64(id[8:16])
	var out [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

func decodeID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != idLen || crockfordDec[s[0]] > 7 {
		return id, false
	}
	var hi, lo uint64
	for i := 0; i < idLen; i++ {
		v := crockfordDec[s[i]]
		if v == 0xff {
			return id, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(id[0:8], hi)
	binary.BigEndian.PutUint64(id[8:16], lo)
	return id, true
}

// ValidID reports whether s has the shape of a job or event ID, so a server can
// answer 404 for a malformed one without a database read.
func ValidID(s string) bool {
	_, ok := decodeID(s)
	return ok && s == canonicalID(s)
}

func canonicalID(s string) string {
	b, ok := decodeID(s)
	if !ok {
		return ""
	}
	return encodeID(b)
}

// IDTime returns the creation time encoded in an ID, to the millisecond.
func IDTime(id string) (time.Time, bool) {
	b, ok := decodeID(id)
	if !ok {
		return time.Time{}, false
	}
	ms := uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(binary.BigEndian.Uint32(b[2:6]))
	return time.UnixMilli(int64(ms)).UTC(), true
}
