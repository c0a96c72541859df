package net

import (
	"context"
	"errors"
	stdnet "net"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
)

// TestSimDropsThenRetryCompletes: the net driver against the simulated
// printer on loopback. The sim drops the connection once after 40 bytes;
// the attempt fails as offline (in Write or, when the job fitted in the
// socket buffers, in Close) and the retry on a new connection prints the
// ticket.
func TestSimDropsThenRetryCompletes(t *testing.T) {
	render := false
	p, err := sim.NewPrinter(&sim.Config{DisconnectAfter: 40, Render: &render})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	ticket := []byte("\x1b@Mesa 12\nTortilla espa\xa4ola x2\nCafe con leche\n\n\n\x1dVB\x00")
	cfg := &Config{Address: ln.Addr().String(), CloseTimeout: "5s"}
	attempt := func() error {
		c, err := Driver{}.Open(context.Background(), cfg)
		if err != nil {
			return err
		}
		if _, err := c.Write(ticket); err != nil {
			c.Close()
			return err
		}
		return c.Close()
	}
	if err := attempt(); !errors.Is(err, core.ErrOffline) {
		t.Fatalf("first attempt through the drop: %v, want an offline error", err)
	}
	// What came out before the drop is a torn ticket, as on paper.
	before := len(p.Tickets())
	if before > 1 || before == 1 && p.Tickets()[0].Cut != "" {
		t.Fatalf("after the drop: %d tickets, first cut %q", before, p.Tickets()[0].Cut)
	}
	if err := attempt(); err != nil {
		t.Fatalf("retry: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(p.Tickets()) == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ts := p.Tickets()
	if len(ts) != before+1 {
		t.Fatalf("%d tickets after the retry, want %d", len(ts), before+1)
	}
	got := ts[len(ts)-1]
	if want := "Mesa 12\nTortilla española x2\nCafe con leche\n"; got.Text() != want || got.Cut != "partial" || len(got.Warnings) > 0 {
		t.Fatalf("reprinted ticket %q cut %q warnings %q, want %q cut partial", got.Text(), got.Cut, got.Warnings, want)
	}
}

// BenchmarkJobPairedSim is BenchmarkJobPaired against the simulated printer
// (interpreting, not rendering) instead of a discarding sink.
//
//	go test -run '^$' -bench JobPairedSim -benchtime 50x -count 5 ./drivers/net/
func BenchmarkJobPairedSim(b *testing.B) {
	render := false
	p, err := sim.NewPrinter(&sim.Config{Render: &render})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	data := rasterJob()
	addr := ln.Addr().String()
	cfg := &Config{Address: addr}
	b.SetBytes(int64(2 * len(data)))
	b.ReportMetric(pairs(b, func() { copyJob(b, addr, data) }, func() { driverJob(b, cfg, data) }), "%-of-io.Copy")
}
