package net

import (
	"strings"
	"testing"
)

// FuzzInfoReplies: whatever a host on port 9100 answers to GS I, the parser
// returns at most four short printable names and never panics.
func FuzzInfoReplies(f *testing.F) {
	f.Add([]byte("_EPSON\x00_TM-T20III\x00"))
	f.Add([]byte("\x12\x14_\x00__\x00_"))
	f.Add([]byte("____\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := infoReplies(b)
		if len(got) > 4 {
			t.Fatalf("%d names", len(got))
		}
		for _, s := range got {
			if s == "" || len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
				t.Fatalf("bad name %q", s)
			}
		}
	})
}
