//go:build linux

package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	serialdrv "github.com/comandera/comandera/drivers/serial"
)

// BenchmarkSerialSimProcess moves a 1 MiB raster job to `comandera sim
// -pty` (a separate process interpreting every byte, no PNG, no print
// speed) through a plain io.Copy into the pty (opened blocking, as the
// serial library opens it) and through the serial driver without flow
// control and with XON/XOFF, in pairs; it reports the driver's rate in
// percent of io.Copy's (target: at least 90).
//
//	go test -run '^$' -bench SerialSimProcess -benchtime 30x -count 5 ./server/e2e/
func BenchmarkSerialSimProcess(b *testing.B) {
	s := startSim(b, filepath.Join(b.TempDir(), "out"), "-pty", "-no-render")
	data := rasterJob()
	copyJob := func() {
		fd, err := syscall.Open(s.addr, syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), s.addr) // blocking: not under the poller
		if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	for _, flow := range []string{serialdrv.FlowNone, serialdrv.FlowXonXoff} {
		b.Run(flow, func(b *testing.B) {
			cfg := &serialdrv.Config{Port: s.addr, Baud: 115200, FlowControl: flow}
			driverJob := func() {
				c, err := serialdrv.Driver{}.Open(context.Background(), cfg)
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
		})
	}
}
