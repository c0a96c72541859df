package sim

import (
	"slices"
	"strings"
	"testing"
)

func TestTranscript(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		want  []string
		warns []string // substrings expected among the warnings
	}{
		{"plain lines", bs("uno", lf, "dos", lf), []string{"uno", "dos"}, nil},
		{"CR LF", bs("uno\r\ndos\r\n"), []string{"uno", "dos"}, nil},
		{"blank lines inside, none at the ends", bs(lf, lf, "a", lf, lf, lf, "b", lf, lf), []string{"a", "", "", "b"}, nil},
		{"ESC d counts lines", bs("a", esc, 'd', 3, "b", lf), []string{"a", "", "", "b"}, nil},
		{"ESC J feeds without lines", bs("a", esc, 'J', 200, "b", lf), []string{"a", "b"}, nil},
		{"trailing spaces dropped", bs("total   ", lf), []string{"total"}, nil},
		{"wrap at 48 columns", bs(strings.Repeat("x", 50), lf), []string{strings.Repeat("x", 48), "xx"}, nil},
		{"wrap in font B at 64", bs(esc, 'M', 1, strings.Repeat("y", 65), lf), []string{strings.Repeat("y", 64), "y"}, nil},
		{"HT gaps become spaces", bs("a", ht, "b", lf), []string{"a       b"}, nil},
		{"unterminated line is not printed", bs("a", lf, "lost"), []string{"a"}, []string{"never printed"}},
		{"ESC @ discards the buffer", bs("lost", esc, '@', "kept", lf), []string{"kept"}, []string{"ESC @ discarded"}},
		{"code page switch mid-line", bs(esc, 't', 19, "a\xa4", esc, 't', 17, "\xa4", esc, 't', 16, "\xf1", lf), []string{"añдñ"}, nil},
		{"unknown code page keeps the page", bs(esc, 't', 99, "\xa4", lf), []string{"ñ"}, []string{"ESC t 99"}},
		{"unknown command warns and goes on", bs("a", esc, 'y', "b", gs, 'Z', "c", fs, 'x', "d", lf), []string{"abcd"}, []string{"unknown command ESC y", "unknown command GS Z", "unknown command FS x"}},
		{"recognised no-ops", bs(fs, '(', 'A', 2, 0, 48, 0, fs, 'S', 0, 0, gs, 'P', 180, 180, esc, 'c', '5', 0, esc, 'c', '3', 0, esc, 'c', '4', 0,
			esc, '=', 1, gs, 'a', 0, gs, 'I', 1, gs, 'r', 1, esc, 'r', 0, esc, 'R', 11, esc, 'U', 0, esc, 'V', 0, esc, 'T', 0,
			gs, '(', 'E', 3, 0, 1, 73, 78, gs, '(', 'H', 6, 0, 48, 48, 1, 2, 3, 4, esc, '%', 0, esc, '?', 65, esc, 'u', 0,
			dle, 0x05, 1, gs, '(', 'K', 2, 0, 48, 1, gs, '(', 'C', 5, 0, 0, 48, 0, 32, 32, fs, 'C', 0, fs, '.', "ok", lf),
			[]string{"ok"}, nil},
		{"control bytes", bs("a", 0x07, 0x00, "b", lf), []string{"ab"}, []string{"control byte 0x07"}},
		{"truncated command", bs("a", lf, gs, 'v', '0', 0, 10, 0, 10, 0, "xx"), []string{"a"}, []string{"ended inside a command"}},
		{"images and text", bs("logo:", lf, gs, 'v', '0', 0, 2, 0, 4, 0, strings.Repeat("\xff", 8), "fin", lf),
			[]string{"logo:", "[IMAGE 16x4]", "fin"}, nil},
		{"Kanji mode pairs", bs(fs, '&', "A", 0xc4, 0xe3, 0xba, 0xc3, fs, '.', "B", lf), []string{"A你好B"}, []string{"Kanji mode"}},
		{"upside down keeps reading order", bs(esc, '{', 1, "abc", lf), []string{"abc"}, nil},
		{"QR without data", bs(gs, '(', 'k', 3, 0, 49, 81, 48), nil, []string{"no data"}},
		{"GS v 0 after text prints the line first", bs("txt", gs, 'v', '0', 0, 1, 0, 1, 0, 0xff, lf), []string{"txt", "[IMAGE 8x1]"}, []string{"GS v 0 with characters"}},
		{"drawer kick on a profile with a drawer", bs(esc, 'p', 0, 25, 250, "x", lf), []string{"x"}, nil},
		{"reverse feed warns", bs(esc, 'e', 2, "x", lf), []string{"x"}, []string{"reverse feed"}},
		{"page mode warns", bs(esc, 'L', "x", lf, esc, 'S'), []string{"x"}, []string{"page mode"}},
		{"PDF417 is not simulated", bs(gs, '(', 'k', 3, 0, 48, 81, 48, "x", lf), []string{"x"}, []string{"PDF417"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := render(t, tt.in, "")
			if got := lines(res); !slices.Equal(got, tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			w := strings.Join(res.Warnings(), "\n")
			for _, s := range tt.warns {
				if !strings.Contains(w, s) {
					t.Errorf("warnings lack %q: %q", s, res.Warnings())
				}
			}
			if len(tt.warns) == 0 && w != "" {
				t.Errorf("unexpected warnings %q", res.Warnings())
			}
		})
	}
}

func TestEvents(t *testing.T) {
	res := render(t, bs(esc, 'p', 0, 25, 250, esc, 'p', 1, 50, 10, dle, 0x14, 1, 0, 2,
		esc, '(', 'A', 4, 0, 48, 49, 3, 10, esc, 'B', 2, 1, "x", lf, gs, 'V', 1, esc, 'p', 0, 1, 1), "epson-tm-m30")
	if len(res.Tickets) != 2 {
		t.Fatalf("%d tickets", len(res.Tickets))
	}
	t0 := res.Tickets[0]
	want := []Pulse{{Pin: 2, OnMS: 50, OffMS: 500}, {Pin: 5, OnMS: 100, OffMS: 100}, {Pin: 2, OnMS: 200, OffMS: 200}}
	if !slices.Equal(t0.Pulses, want) || t0.Beeps != 5 || t0.Cut != "partial" {
		t.Errorf("pulses %v beeps %d cut %q", t0.Pulses, t0.Beeps, t0.Cut)
	}
	if len(res.Tickets[1].Pulses) != 1 || res.Tickets[1].Length != 0 {
		t.Errorf("second ticket: %+v", res.Tickets[1])
	}
	// A profile without a buzzer or a drawer says so.
	res = render(t, bs(esc, 'p', 0, 25, 250, esc, 'B', 1, 1), "generic-58mm")
	w := strings.Join(res.Warnings(), "\n")
	if !strings.Contains(w, "no drawer") || !strings.Contains(w, "no buzzer") {
		t.Errorf("warnings %q", w)
	}
}

func TestCutForms(t *testing.T) {
	for _, tc := range []struct {
		cmd  []byte
		prof string
		cut  string
		feed int // dots fed by the cut
	}{
		{bs(gs, 'V', 0), "", "full", 0},
		{bs(gs, 'V', 48), "", "full", 0},
		{bs(gs, 'V', 1), "", "partial", 0},
		{bs(gs, 'V', 49), "", "partial", 0},
		{bs(gs, 'V', 65, 10), "", "full", 95 + 10},
		{bs(gs, 'V', 66, 0), "", "partial", 95},
		{bs(gs, 'V', 97, 5), "", "full", 95 + 5},
		{bs(gs, 'V', 98, 5), "", "partial", 95 + 5},
		{bs(gs, 'V', 103, 0), "", "full", 95},
		{bs(gs, 'V', 104, 0), "", "partial", 95},
		{bs(esc, 'i'), "", "partial", 0},
		{bs(esc, 'm'), "", "partial", 0},
		{bs(gs, 'V', 0), "epson-tm-t20iii", "partial", 0}, // a partial-only cutter
	} {
		res := render(t, bs("x", lf, tc.cmd, "y", lf), tc.prof)
		if len(res.Tickets) != 2 {
			t.Errorf("%q: %d tickets", tc.cmd, len(res.Tickets))
			continue
		}
		if got := res.Tickets[0]; got.Cut != tc.cut || got.Length != 30+tc.feed {
			t.Errorf("%q on %q: cut %q length %d, want %q %d", tc.cmd, tc.prof, got.Cut, got.Length, tc.cut, 30+tc.feed)
		}
	}
	// No cutter: the paper is not cut.
	res := render(t, bs("x", lf, gs, 'V', 0, "y", lf), "generic-58mm")
	if len(res.Tickets) != 1 || !strings.Contains(strings.Join(res.Warnings(), ""), "no cutter") {
		t.Errorf("58 mm: %d tickets, warnings %q", len(res.Tickets), res.Warnings())
	}
}

func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		prof  string
		width int
		err   bool
	}{
		{"", 576, false}, {"generic-80mm", 576, false}, {"epson-tm-t88v", 512, false}, {"generic-58mm", 384, false},
		{"star-tsp650", 576, false}, {"star-tsp100", 576, false},
	} {
		prof := defaultProfile()
		if tc.prof != "" {
			prof = profile(t, tc.prof)
		}
		res, err := Render(bs("x", lf), prof)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "not yet supported") {
				t.Errorf("%s: err %v, want not yet supported", tc.prof, err)
			}
			continue
		}
		if err != nil || res.Image.Bounds().Dx() != tc.width {
			t.Errorf("%s: %v, width %v", tc.prof, err, res.Image.Bounds())
		}
	}
	if res, err := Render(bs("x", lf), nil); err != nil || res.Profile.Name != "generic-80mm" {
		t.Errorf("nil profile: %v", err)
	}
}
