//go:build linux

package serial

import (
	"bytes"
	"context"
	"io"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// rasterJob is a 1 MiB raster ticket: ESC @, GS v 0 of a 576-dot-wide
// image, and a cut.
func rasterJob() []byte {
	const width = 72
	rows := (1<<20 - 16) / width
	b := []byte{0x1b, '@', 0x1d, 'v', '0', 0, width, 0, byte(rows), byte(rows >> 8)}
	b = append(b, job(rows*width, 42)...)
	return append(b, 0x1d, 'V', 66, 0)
}

// ptySink is a pty whose master discards everything: the printer end.
func ptySink(b *testing.B) string {
	master, slave, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { master.Close(); slave.Close() })
	// Raw, as the driver leaves it, so the baseline's bytes are not
	// post-processed either.
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		b.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		b.Fatal(err)
	}
	go io.Copy(io.Discard, master)
	return slave.Name()
}

// copyJob is the baseline: open the pty in blocking mode (as the serial
// library does; faster on a pty than Go's poller) and io.Copy the job into
// it.
func copyJob(b *testing.B, path string, data []byte) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path) // blocking: not under the poller
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	f.Close()
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

// BenchmarkJob measures one 1 MiB raster job per iteration to a pty whose
// other end discards it, through a plain io.Copy and through the driver
// without flow control and with XON/XOFF.
//
//	go test -run '^$' -bench 'Job$' -benchtime 100x -count 5 ./drivers/serial/
func BenchmarkJob(b *testing.B) {
	data := rasterJob()
	path := ptySink(b)
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			copyJob(b, path, data)
		}
	})
	for _, flow := range []string{FlowNone, FlowXonXoff} {
		b.Run("driver/"+flow, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			cfg := &Config{Port: path, Baud: 115200, FlowControl: flow}
			for b.Loop() {
				driverJob(b, cfg, data)
			}
		})
	}
}

// BenchmarkJobPaired runs the io.Copy job and the driver job back to back
// in every iteration (alternating which goes first) and reports the median
// of the per-pair ratios as the driver's rate in percent of io.Copy's; the
// target is at least 90. With xonxoff the first 32 KiB go in line-sized
// chunks (115 bytes at 115200 baud) until the driver sees the pty take data
// far faster than the line rate.
//
//	go test -run '^$' -bench JobPaired -benchtime 100x -count 5 ./drivers/serial/
func BenchmarkJobPaired(b *testing.B) {
	data := rasterJob()
	path := ptySink(b)
	for _, flow := range []string{FlowNone, FlowXonXoff} {
		b.Run(flow, func(b *testing.B) {
			cfg := &Config{Port: path, Baud: 115200, FlowControl: flow}
			b.SetBytes(int64(2 * len(data)))
			b.ReportMetric(pairs(b, func() { copyJob(b, path, data) }, func() { driverJob(b, cfg, data) }), "%-of-io.Copy")
		})
	}
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
