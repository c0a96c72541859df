package net

import (
	"bytes"
	"context"
	"io"
	stdnet "net"
	"slices"
	"testing"
	"time"
)

// rasterJob is a 1 MiB raster ticket: ESC @, GS v 0 of a 576-dot-wide
// image, and a cut.
func rasterJob() []byte {
	const width = 72 // bytes per row: 576 dots
	rows := (1<<20 - 16) / width
	b := []byte{0x1b, '@', 0x1d, 'v', '0', 0, width, 0, byte(rows), byte(rows >> 8)}
	b = append(b, job(rows*width, 42)...)
	return append(b, 0x1d, 'V', 66, 0)
}

// sink accepts connections on loopback and discards what they send, closing
// each at EOF, as a printer does.
func sink(b *testing.B) string {
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// copyJob is the baseline: dial, io.Copy, half-close, wait for the sink to
// close (it has read everything).
func copyJob(b *testing.B, addr string, data []byte) {
	c, err := stdnet.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(c, bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	c.(*stdnet.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
}

// driverJob is the same job through the driver: Open, Write, Close.
func driverJob(b *testing.B, cfg *Config, data []byte) {
	c, err := Driver{}.Open(context.Background(), cfg)
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

// BenchmarkJob measures one 1 MiB raster job per iteration to a loopback
// sink, through a plain io.Copy and through the driver.
//
//	go test -run '^$' -bench Job -benchtime 300x -count 5 ./drivers/net/
func BenchmarkJob(b *testing.B) {
	data := rasterJob()
	addr := sink(b)
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			copyJob(b, addr, data)
		}
	})
	b.Run("driver", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		cfg := &Config{Address: addr}
		for b.Loop() {
			driverJob(b, cfg, data)
		}
	})
}

// BenchmarkJobPaired runs the io.Copy job and the driver job back to back
// in every iteration (alternating which goes first) and reports the median
// of the per-pair ratios as the driver's rate in percent of io.Copy's: a
// busy machine slows both of a pair alike, so the figure stays meaningful
// where separate runs are noise. The target is at least 90.
//
//	go test -run '^$' -bench JobPaired -benchtime 300x -count 5 ./drivers/net/
func BenchmarkJobPaired(b *testing.B) {
	data := rasterJob()
	addr := sink(b)
	cfg := &Config{Address: addr}
	b.SetBytes(int64(2 * len(data)))
	ratios := pairs(b, func() { copyJob(b, addr, data) }, func() { driverJob(b, cfg, data) })
	b.ReportMetric(ratios, "%-of-io.Copy")
}

// pairs times base and f alternately and returns the median of
// 100 * base time / f time.
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
