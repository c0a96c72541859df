package escpos

import (
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

const spanish = "ñ Ñ á é í ó ú ü Á É Í Ó Ú Ü ¿ ¡ €"

// decodeRuns turns runs back into UTF-8 with the code pages' own tables.
func decodeRuns(t *testing.T, runs []Run) string {
	t.Helper()
	var sb strings.Builder
	for _, r := range runs {
		cm, ok := core.CodePage(r.CodePage)
		if !ok {
			t.Fatalf("run in unknown code page %q", r.CodePage)
		}
		for _, b := range r.Text {
			sb.WriteRune(cm.DecodeByte(b))
		}
	}
	return sb.String()
}

func TestTranscodeSpanishOnEveryProfile(t *testing.T) {
	for _, name := range core.Builtin().Names() {
		p, _ := core.Builtin().Lookup(name)
		tr := NewTranscoder(p)
		runs, replaced := tr.Transcode(spanish)
		if replaced != 0 {
			t.Errorf("%s: %d characters replaced", name, replaced)
		}
		if got := decodeRuns(t, runs); got != spanish {
			t.Errorf("%s: got %q", name, got)
		}
		for _, r := range runs {
			if n, ok := p.CodePageNumber(r.CodePage); !ok || n != r.Number {
				t.Errorf("%s: run in %s numbered %d, profile says %d", name, r.CodePage, r.Number, n)
			}
		}
	}
}

func TestTranscodeSwitchesMidLine(t *testing.T) {
	p, _ := core.Builtin().Lookup("epson-tm-t20iii") // default PC437: no €
	tr := NewTranscoder(p)
	runs, replaced := tr.Transcode("Total: 12,50 € — ¡gracias!")
	if replaced != 0 {
		t.Fatalf("replaced %d", replaced)
	}
	if runs[0].CodePage != "PC437" {
		t.Errorf("first run in %s, want the default PC437", runs[0].CodePage)
	}
	if got := decodeRuns(t, runs); got != "Total: 12,50 € - ¡gracias!" {
		t.Errorf("got %q", got)
	}
	// The page in force carries over: the next call stays where the last ended.
	name, _ := tr.Current()
	next, _ := tr.Transcode("x")
	if next[0].CodePage != name {
		t.Errorf("next call switched from %s to %s for ASCII", name, next[0].CodePage)
	}
}

func TestTranscodeReplacesVisibly(t *testing.T) {
	p, _ := core.Builtin().Lookup("generic-80mm")
	for _, tc := range []struct {
		in, want string
		n        int
	}{
		{"寿司 ok", "?? ok", 2},
		{"a\x1bp\x00b", "a?p?b", 2}, // ESC and NUL cannot reach the printer
		{"x\ny", "x?y", 1},
		{"e\u0301", "é", 0}, // NFC
		{"“hi”", `"hi"`, 0},
		{"\xff", "?", 1},
	} {
		runs, n := NewTranscoder(p).Transcode(tc.in)
		if got := decodeRuns(t, runs); got != tc.want || n != tc.n {
			t.Errorf("%q: got %q (%d replaced), want %q (%d)", tc.in, got, n, tc.want, tc.n)
		}
	}
}
