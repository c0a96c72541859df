package starline

import (
	"errors"
	"testing"

	"github.com/comandera/comandera/core"
)

// The replies are built from the bit tables of the specification's
// automatic status chapter (Header 1, Header 2, Printer status 1–4): a
// TSP650 sends version 3 ASBs, 9 bytes long (header 1 = 0x23, header 2 =
// 0x06 for version 3, 0x86 with the extension flag on a LAN interface).
func TestParseASB(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
		want  core.Status
	}{
		{"ready", h(`23 86 00 00 00 00 00 00 00`),
			core.Status{Known: true, Online: true}},
		{"ready, USB (no extension flag)", h(`23 06 00 00 00 00 00 00 00`),
			core.Status{Known: true, Online: true}},
		{"version 1, 7 bytes", h(`0f 02 00 00 00 00 00`),
			core.Status{Known: true, Online: true}},
		{"cover open", h(`23 86 28 00 00 00 00 00 00`),
			core.Status{Known: true, CoverOpen: true}},
		{"paper end", h(`23 86 08 00 00 0c 00 00 00`),
			core.Status{Known: true, PaperOut: true, PaperLow: true}},
		{"paper near end, still online", h(`23 86 00 00 00 04 00 00 00`),
			core.Status{Known: true, Online: true, PaperLow: true}},
		{"auto-cutter error", h(`23 86 08 08 00 00 00 00 00`),
			core.Status{Known: true, Error: true, Detail: "auto-cutter error"}},
		{"head too hot", h(`23 86 08 40 00 00 00 00 00`),
			core.Status{Known: true, Error: true, Detail: "stopped by high head temperature"}},
		{"mechanical and non-recoverable", h(`23 86 08 24 00 00 00 00 00`),
			core.Status{Known: true, Error: true, Detail: "mechanical error, non-recoverable error"}},
		{"head up", h(`23 86 08 00 02 00 00 00 00`),
			core.Status{Known: true, Error: true, Detail: "head up"}},
		{"XON before the ASB", h(`11 23 86 00 00 00 00 00 00 00`),
			core.Status{Known: true, Online: true}},
		{"the last of two ASBs wins", h(`23 86 28 00 00 00 00 00 00 23 86 00 00 00 00 00 00 00`),
			core.Status{Known: true, Online: true}},
		{"extended ASB with status data", h(`23 86 28 00 00 00 00 00 00 00 02 aa bb 23 86 00 00 00 04 00 00 00`),
			core.Status{Known: true, Online: true, PaperLow: true}},
		{"trailing partial ASB ignored", h(`23 86 28 00 00 00 00 00 00 23 86 00`),
			core.Status{Known: true, CoverOpen: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseASB(tc.reply)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseASBRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
	}{
		{"empty", nil},
		{"DLE EOT reply", h(`12`)},
		{"XOFF", h(`13`)},
		{"short", h(`23 86 00 00`)},
		{"bit 7 set in a status byte", h(`23 86 80 00 00 00 00 00 00`)},
		{"bit 0 set in a status byte", h(`23 86 00 01 00 00 00 00 00`)},
		{"header announces 4 bytes", h(`09 02 00 00`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseASB(tc.reply)
			if !errors.Is(err, ErrNoASB) {
				t.Fatalf("ParseASB = %+v, %v: want ErrNoASB", s, err)
			}
			if s.Known {
				t.Error("an error came with a known status")
			}
		})
	}
}

func TestASBHeader(t *testing.T) {
	for h, n := range map[byte]int{0x0f: 7, 0x23: 9, 0x25: 10, 0x2f: 15} {
		if !IsASBHeader(h) || ASBLength(h) != n {
			t.Errorf("header %#02x: IsASBHeader %v, ASBLength %d, want %d", h, IsASBHeader(h), ASBLength(h), n)
		}
	}
	for _, b := range []byte{0x11, 0x13, 0x12, 0x86, 0x00} {
		if IsASBHeader(b) {
			t.Errorf("%#02x taken for an ASB header", b)
		}
	}
}

// FuzzParseASB: any reply gives a status or ErrNoASB, never a panic, and a
// status only with Known set.
func FuzzParseASB(f *testing.F) {
	f.Add(h(`23 86 00 00 00 00 00 00 00`))
	f.Add(h(`23 86 28 00 00 00 00 00 00 00 02 aa bb`))
	f.Add(h(`0f 02 00 00 00 04 00`))
	f.Fuzz(func(t *testing.T, reply []byte) {
		s, err := ParseASB(reply)
		if err != nil && !errors.Is(err, ErrNoASB) {
			t.Fatalf("unexpected error %v", err)
		}
		if (err == nil) != s.Known {
			t.Fatalf("status %+v with error %v", s, err)
		}
	})
}
