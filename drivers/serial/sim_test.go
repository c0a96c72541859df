//go:build linux

package serial

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/comandera/comandera/drivers/sim"
)

// simPTY starts the simulated printer on a new pty and returns its path.
func simPTY(tb testing.TB, cfg *sim.Config) (*sim.Printer, string) {
	tb.Helper()
	render := false
	cfg.Render = &render
	p, err := sim.NewPrinter(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- p.ServePTY(ctx, 200*time.Millisecond, func(s string) { path <- s }) }()
	tb.Cleanup(func() { cancel(); <-served })
	select {
	case s := <-path:
		return p, s
	case err := <-served:
		tb.Fatalf("sim: %v", err)
	}
	return nil, ""
}

// TestSimXoff: the serial driver with XON/XOFF against the simulated printer
// that prints at 1000 mm/s and sends XOFF while 2 KiB are unprinted: a
// 252 KiB raster job (448 mm of paper) makes it pause and resume, and the
// ticket comes out whole.
func TestSimXoff(t *testing.T) {
	p, path := simPTY(t, &sim.Config{Speed: 1000, XOffAt: 2048})
	c := openConn(t, Driver{}, &Config{Port: path, Baud: 115200, FlowControl: FlowXonXoff, ReadyTimeout: "5s"})
	// 56 bands of 64 rows, as the encoder sends images.
	const bands, rows = 56, 64
	job := []byte{0x1b, '@'}
	for b := range bands {
		job = append(job, 0x1d, 'v', '0', 0, 72, 0, rows, 0)
		for i := range rows * 72 {
			job = append(job, byte(i*7+b))
		}
	}
	job = append(job, "\n\n\x1dVB\x00"...)
	start := time.Now()
	if _, err := c.Write(job); err != nil {
		t.Fatalf("Write after %v: %v", time.Since(start), err)
	}
	c.mu.Lock()
	xoffs := c.xoffs
	c.mu.Unlock()
	if xoffs == 0 {
		t.Error("the sim never sent XOFF during the job: the test proves nothing")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(p.Tickets()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ts := p.Tickets()
	if len(ts) != 1 || ts[0].Cut != "partial" || len(ts[0].Warnings) > 0 || ts[0].Text() != fmt.Sprintf("[IMAGE 576x%d]\n", bands*rows) {
		t.Fatalf("tickets: %d; %q %+v", len(ts), ts[0].Text(), ts[0].Warnings)
	}
}

// BenchmarkJobPairedSim is BenchmarkJobPaired against the simulated printer
// on a pty (interpreting, not rendering, no print speed).
//
//	go test -run '^$' -bench JobPairedSim -benchtime 30x -count 5 ./drivers/serial/
func BenchmarkJobPairedSim(b *testing.B) {
	_, path := simPTY(b, &sim.Config{})
	data := rasterJob()
	for _, flow := range []string{FlowNone, FlowXonXoff} {
		b.Run(flow, func(b *testing.B) {
			cfg := &Config{Port: path, Baud: 115200, FlowControl: flow}
			b.SetBytes(int64(2 * len(data)))
			b.ReportMetric(pairs(b, func() { copyJob(b, path, data) }, func() { driverJob(b, cfg, data) }), "%-of-io.Copy")
		})
	}
}
