package sim

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/paper"
)

// peakHeap runs f and returns the most heap it held at once, sampled every
// 200 µs with the garbage collector set to collect at 10 % growth, so the
// figure is close to live memory rather than to garbage not yet collected.
func peakHeap(f func()) uint64 {
	old := debug.SetGCPercent(10)
	defer debug.SetGCPercent(old)
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	f()
	close(done)
	<-stopped
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// Peak heap bounds the hostile tests check. A ticket's canvas is at most
// 576 × 31 969 dots (4 m) = 18.4 MB, one byte a dot; growing it by doubling
// and encoding its PNG add less than as much again, and the streaming
// decoder holds at most escpos.DefaultMaxCommand (4 MiB). A roll (Render)
// is at most 8 m: 36.8 MB.
const (
	ticketBound = 64 << 20  // a device job, streamed through a Conn
	rollBound   = 128 << 20 // Render of a whole roll, input included
)

// hostile inputs: each would exhaust memory or run forever on a naive
// printer model.
func hostileInputs() map[string][]byte {
	raster := bs(gs, 'v', '0', 0, 0xff, 0xff, 0xff, 0xff) // 65535 × 8 dots × 65535 rows
	gs8 := bs(gs, '8', 'L', 0xff, 0xff, 0xff, 0xff, 48, 112, 48, 2, 2, 49, 0xff, 0xff, 0xff, 0xff)
	return map[string][]byte{
		"GS v 0 65535x65535 + 8 MiB":  append(raster, bytes.Repeat([]byte{0xaa}, 8<<20)...),
		"GS v 0 m=3 header only":      bs(gs, 'v', '0', 3, 0xff, 0xff, 0xff, 0xff, "x"),
		"GS 8 L 4 GB + 8 MiB":         append(gs8, bytes.Repeat([]byte{0x55}, 8<<20)...),
		"GS ( L 64 KB graphics x100":  bytes.Repeat(bs(gs, '(', 'L', 0xff, 0xff, 48, 112, 48, 2, 2, 49, 0xf0, 0xff, 0xff, 0xff, bytes.Repeat([]byte{0xff}, 65535-10), gs, '(', 'L', 2, 0, 48, 50), 100),
		"endless ESC d 255":           bytes.Repeat(bs(esc, 'd', 255), 1<<20),
		"endless ESC J 255 with text": bytes.Repeat(bs("ABC", esc, 'J', 255), 1<<18),
		"8x8 text forever":            append(bs(gs, '!', 0x77), bytes.Repeat([]byte("W\n"), 1<<20)...),
		"QR 7000 digits x10":          bytes.Repeat(qrBytes(strings.Repeat("9", 7000), 16, 48), 10),
		"barcodes x10000":             bytes.Repeat(bs(gs, 'h', 255, gs, 'w', 6, gs, 'H', 3, gs, 'k', 73, 255, "{B", strings.Repeat("x", 253)), 10000),
		"ESC * 8-dot x10000":          bytes.Repeat(bs(esc, '*', 0, 0xff, 0xff, bytes.Repeat([]byte{0xff}, 65535)), 100),
		"NV define x1000":             bytes.Repeat(bs(gs, '(', 'L', 0xff, 0xff, 48, 67, 48, 'A', 'B', 1, 0xf0, 0xff, 0xff, 0xff, 49, bytes.Repeat([]byte{0xff}, 65535-11)), 100),
		"warnings x1M":                bytes.Repeat(bs(esc, 'y', gs, 'Z', 0x07), 1<<18),
	}
}

// TestHostileRender renders each hostile input as a whole roll: the roll is
// capped at 8 m, and the peak heap stays under rollBound.
func TestHostileRender(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MB")
	}
	maxRows := RollMaxMM * 203 * 10 / 254
	for name, in := range hostileInputs() {
		var res *Result
		n := peakHeap(func() {
			var err error
			res, err = Render(in, nil)
			if err != nil {
				t.Fatal(err)
			}
		})
		if h := res.Image.Bounds().Dy(); h > maxRows+8 {
			t.Errorf("%s: roll is %d dots long, cap %d", name, h, maxRows)
		}
		if n > rollBound {
			t.Errorf("%s: peak heap %.1f MiB, bound %.0f MiB", name, float64(n)/(1<<20), float64(rollBound)/(1<<20))
		}
		t.Logf("%-30s peak heap %6.1f MiB, roll %5d dots, %d tickets", name, float64(n)/(1<<20), res.Image.Bounds().Dy(), len(res.Tickets))
	}
}

// TestHostileDevice streams each hostile input through a Conn in 64 KiB
// writes, as a TCP printer receives it, with tickets kept in memory: a ticket
// is capped at 4 m and the peak heap stays under ticketBound plus the
// tickets kept.
func TestHostileDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MB")
	}
	maxRows := paper.DefaultMaxMM * 203 * 10 / 254
	for name, in := range hostileInputs() {
		cfg := Config{}
		p, err := NewPrinter(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		n := peakHeap(func() {
			c, err := p.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(in); i += 64 << 10 {
				c.Write(in[i:min(i+64<<10, len(in))])
			}
			c.Close()
		})
		tickets := p.Tickets()
		for _, tk := range tickets {
			if tk.Image.Bounds().Dy() > maxRows {
				t.Errorf("%s: ticket is %d dots long, cap %d", name, tk.Image.Bounds().Dy(), maxRows)
			}
		}
		// Tickets are kept in memory here (no output directory); count each
		// ticket's image on top of the job's bound.
		var kept uint64
		for _, tk := range tickets {
			kept += uint64(len(tk.Image.Pix))
		}
		if n > ticketBound+kept {
			t.Errorf("%s: peak heap %.1f MiB with %d tickets kept, bound %.0f MiB + kept images", name, float64(n)/(1<<20), len(tickets), float64(ticketBound)/(1<<20))
		}
		t.Logf("%-30s peak heap %6.1f MiB, %d tickets (%.1f MiB kept)", name, float64(n)/(1<<20), len(tickets), float64(kept)/(1<<20))
	}
}

// TestCapWarning checks an endless feed reaches the cap and says so.
func TestCapWarning(t *testing.T) {
	res := render(t, bytes.Repeat(bs(esc, 'd', 255), 10000), "")
	w := strings.Join(res.Warnings(), "\n")
	if !strings.Contains(w, "paper length cap reached") || !strings.Contains(w, "8000 mm") {
		t.Errorf("warnings %q", w)
	}
	if !res.Tickets[0].Clipped {
		t.Errorf("ticket not marked clipped")
	}
}

// interpretChunks runs data through a fresh ESC/POS interpreter in chunks
// (paper only: no image) and returns the transcripts.
func interpretChunks(data []byte, cuts []int) []string {
	p := defaultProfile()
	var out []string
	roll := paper.New(paper.Config{Width: p.DotsPerLine, DPI: p.DPI, MaxLength: 4000, OnTicket: func(t *Ticket) {
		out = append(out, t.Lines...)
		out = append(out, "--"+t.Cut)
	}})
	in, _ := newInterpreter(&host{roll: roll, profile: p, status: func() core.Status { return core.Status{Known: true, Online: true} }})
	prev := 0
	for _, c := range cuts {
		in.Write(data[prev:c])
		prev = c
	}
	in.Write(data[prev:])
	in.End()
	roll.Finish()
	return out
}

func FuzzSim(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input it finds, which
	// costs time in proportion to its size.
	f.Add(bs(esc, '@', esc, 't', 19, esc, 'a', 1, gs, '!', 0x11, "CO\xa4", lf, esc, '-', 2, gs, 'B', 1, "x", ht, "y", lf, gs, 'V', 66, 3), uint16(1))
	f.Add(bs(esc, 'M', 1, esc, '{', 1, esc, ' ', 3, esc, '$', 10, 0, "ab", esc, 'D', 2, 4, 0, ht, "c", esc, 'd', 2, esc, 'J', 9), uint16(2))
	f.Add(bs(gs, 'v', '0', 3, 0xff, 0x7f, 0xff, 0xff, "abc"), uint16(3))
	f.Add(bs(esc, '*', 33, 10, 0, "abcdefghijklmnopqrstuvwxyz0123", lf), uint16(4))
	f.Add(bs(fs, '&', 0xc4, 0xe3, "ab", 0xba), uint16(5))
	f.Add(bs(gs, '(', 'L', 20, 0, 48, 67, 48, 'A', 'B', 1, 16, 0, 4, 0, 49, 1, 2, 3, 4, 5, 6, 7, 8, gs, '(', 'L', 6, 0, 48, 69, 'A', 'B', 2, 2), uint16(6))
	f.Add(bs(gs, 'k', 4, "*AB*CD", 0, gs, 'k', 73, 4, "{C", 200, 12, lf, gs, 'H', 3, gs, 'k', 2, "400638133393", 0), uint16(7))
	f.Add(bs(qrBytes("12", 3, 49), dle, 4, 1, esc, 'p', 0, 1, 2, gs, 'L', 9, 0, gs, 'W', 90, 0, "z", lf), uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, seed uint16) {
		// Whole: render with a small cap (7.5 cm) so each run is quick.
		res, err := RenderOptions(data, nil, Options{MaxLength: 600})
		if err != nil {
			t.Fatal(err)
		}
		if res.Image.Bounds().Dy() > 600+8 || res.Image.Bounds().Dx() != 576 {
			t.Fatalf("image %v beyond the cap", res.Image.Bounds())
		}
		// Chunked decoding prints the same as whole decoding.
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		var cuts []int
		for i := 0; i < len(data); i += 1 + rng.IntN(32) {
			cuts = append(cuts, i)
		}
		whole := interpretChunks(data, nil)
		chunked := interpretChunks(data, cuts)
		if !slices.Equal(whole, chunked) {
			t.Fatalf("chunked transcript differs:\n%q\n%q", whole, chunked)
		}
	})
}
