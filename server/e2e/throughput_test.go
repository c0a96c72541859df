package e2e

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	netdrv "github.com/comandera/comandera/drivers/net"
)

// rasterJob is a 1 MiB raster ticket: ESC @, GS v 0 of a 576-dot-wide
// image of random dots, and a cut.
func rasterJob() []byte {
	const width = 72 // bytes per row: 576 dots
	rows := (1<<20 - 16) / width
	b := []byte{0x1b, '@', 0x1d, 'v', '0', 0, width, 0, byte(rows), byte(rows >> 8)}
	r := rand.New(rand.NewPCG(42, 9))
	for range rows * width {
		b = append(b, byte(r.Uint32()))
	}
	return append(b, 0x1d, 'V', 66, 0)
}

// pairs times base and f alternately and returns the median of
// 100 * base time / f time: a busy machine slows both of a pair alike.
func pairs(b *testing.B, base, f func()) float64 {
	var r []float64
	i := 0
	for b.Loop() {
		var tb, tf time.Duration
		if i%2 == 0 {
			t0 := time.Now()
			base()
			t1 := time.Now()
			f()
			tb, tf = t1.Sub(t0), time.Since(t1)
		} else {
			t0 := time.Now()
			f()
			t1 := time.Now()
			base()
			tf, tb = t1.Sub(t0), time.Since(t1)
		}
		r = append(r, 100*float64(tb)/float64(tf))
		i++
	}
	slices.Sort(r)
	return r[len(r)/2]
}

// BenchmarkNetSimProcess moves a 1 MiB raster job to `comandera sim -listen`
// (a separate process interpreting every byte, writing a transcript per
// ticket, no PNG) through a plain io.Copy on a TCP connection (dial, copy,
// half-close, wait for the sim to close) and through the net driver (Open,
// Write, Close, which waits for the same), in pairs; it reports the
// driver's rate in percent of io.Copy's (target: at least 90).
//
//	go test -run '^$' -bench NetSimProcess -benchtime 50x -count 5 ./server/e2e/
func BenchmarkNetSimProcess(b *testing.B) {
	s := startSim(b, filepath.Join(b.TempDir(), "out"), "-listen", "127.0.0.1:0", "-no-render")
	data := rasterJob()
	cfg := &netdrv.Config{Address: s.addr}
	copyJob := func() {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(c, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
	}
	driverJob := func() {
		c, err := netdrv.Driver{}.Open(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(2 * len(data)))
	b.ReportMetric(pairs(b, copyJob, driverJob), "%-of-io.Copy")
}
