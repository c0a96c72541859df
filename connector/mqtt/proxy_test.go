package mqtt

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// v311Front stands in front of a broker as a broker that speaks only MQTT
// 3.1.1 would: it answers an MQTT 5 CONNECT with the 3.1.1 CONNACK
// "unacceptable protocol version" (20 02 00 01) and closes, and passes
// every other connection through to the broker behind it. It can also cut
// every connection, as a network failure does, and refuse new ones.
type v311Front struct {
	t       testing.TB
	ln      net.Listener
	backend string // host:port

	refusedV5  atomic.Int32 // MQTT 5 CONNECTs refused
	passed     atomic.Int32 // connections passed through
	dropPuback atomic.Int32 // 1 + the packet ID of a PUBACK from a client to lose; 0 for none

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool // refuse new connections
}

func startV311Front(t testing.TB, backend string) *v311Front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &v311Front{t: t, ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.cut(true)
	})
	return f
}

func (f *v311Front) url() string { return "mqtt://" + f.ln.Addr().String() }

// losePuback makes the next PUBACK from a client for packet id disappear.
func (f *v311Front) losePuback(id uint16) { f.dropPuback.Store(int32(id) + 1) }

// cut closes every connection, as if the network failed; with refuse set,
// new connections are closed at once until cut(false).
func (f *v311Front) cut(refuse bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = refuse
	for c := range f.conns {
		c.Close()
	}
	clear(f.conns)
}

func (f *v311Front) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *v311Front) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

func (f *v311Front) handle(c net.Conn) {
	if !f.track(c) {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	first, err := readPacket(r)
	if err != nil || first[0]>>4 != 1 { // not a CONNECT
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	if level, ok := protocolLevel(first); ok && level == 5 {
		f.refusedV5.Add(1)
		c.Write([]byte{0x20, 0x02, 0x00, 0x01})
		c.Close()
		return
	}
	b, err := net.Dial("tcp", f.backend)
	if err != nil || !f.track(b) {
		c.Close()
		if b != nil {
			b.Close()
		}
		return
	}
	f.passed.Add(1)
	if _, err := b.Write(first); err != nil {
		c.Close()
		b.Close()
		return
	}
	go func() { // client to broker, packet by packet
		defer b.Close()
		defer c.Close()
		for {
			pkt, err := readPacket(r)
			if err != nil {
				return
			}
			if pkt[0]>>4 == 4 && len(pkt) >= 4 {
				id := int32(binary.BigEndian.Uint16(pkt[2:4])) + 1
				if f.dropPuback.CompareAndSwap(id, 0) {
					continue // lost, as on a failing network
				}
			}
			if _, err := b.Write(pkt); err != nil {
				return
			}
		}
	}()
	io.Copy(c, b)
	c.Close()
	b.Close()
}

// readPacket reads one whole MQTT control packet (fixed header, remaining
// length, rest).
func readPacket(r *bufio.Reader) ([]byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	pkt := []byte{h}
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		pkt = append(pkt, b)
		n += int(b&0x7f) * mul
		mul *= 128
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return nil, io.ErrUnexpectedEOF
		}
	}
	rest := make([]byte, n)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	return append(pkt, rest...), nil
}

// protocolLevel returns a CONNECT packet's protocol level (4 for 3.1.1, 5
// for MQTT 5).
func protocolLevel(pkt []byte) (byte, bool) {
	i := 1
	for pkt[i]&0x80 != 0 {
		i++
	}
	body := pkt[i+1:]
	if len(body) < 2 {
		return 0, false
	}
	nameLen := int(binary.BigEndian.Uint16(body))
	if len(body) < 2+nameLen+1 {
		return 0, false
	}
	return body[2+nameLen], true
}
