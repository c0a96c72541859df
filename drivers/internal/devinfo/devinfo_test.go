package devinfo

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestParseDeviceID(t *testing.T) {
	tests := []struct {
		name             string
		in               string
		mfg, mdl, sn     string
		cmd              []string
		cls, description string
	}{
		{
			name: "epson",
			in:   "MFG:EPSON;CMD:ESCPOS;MDL:TM-T20III;CLS:PRINTER;DES:TM-T20III;",
			mfg:  "EPSON", mdl: "TM-T20III", cmd: []string{"ESCPOS"}, cls: "PRINTER", description: "TM-T20III",
		},
		{
			name: "star with spaces in the model",
			in:   "MFG:Star;CMD:STAR;MDL:TSP143 (STR_T-001);CLS:PRINTER;",
			mfg:  "Star", mdl: "TSP143 (STR_T-001)", cmd: []string{"STAR"}, cls: "PRINTER",
		},
		{
			name: "long key names, no trailing semicolon",
			in:   "MANUFACTURER:Printer;COMMAND SET:ESC/POS;MODEL:POS-80;SERN:ABC123",
			mfg:  "Printer", mdl: "POS-80", sn: "ABC123", cmd: []string{"ESC/POS"},
		},
		{
			name: "lower-case keys and spaces around everything",
			in:   " mfg : Xprinter ; mdl: XP-58IIH ;cmd: ESC/POS , TSPL ; sn :X1 ;",
			mfg:  "Xprinter", mdl: "XP-58IIH", sn: "X1", cmd: []string{"ESC/POS", "TSPL"},
		},
		{
			name: "duplicate keys: first non-empty wins",
			in:   "MFG:;MFG:EPSON;MFG:SEIKO;MDL:TM-T88V;MODEL:other;",
			mfg:  "EPSON", mdl: "TM-T88V",
		},
		{
			name: "trailing spaces and control bytes",
			in:   "MFG:Hewlett-Packard;CMD:PJL,PML,PCL,POSTSCRIPT;MDL:HP LaserJet 4050 Series ;CLS:PRINTER;\x00\x01junk",
			mfg:  "Hewlett-Packard", mdl: "HP LaserJet 4050 Series", cmd: []string{"PJL", "PML", "PCL", "POSTSCRIPT"}, cls: "PRINTER",
		},
		{
			name: "pairs without a colon are skipped",
			in:   "garbage;;MDL:TM-m30;:;=;SN:77",
			mdl:  "TM-m30", sn: "77",
		},
		{
			name: "value with a colon keeps it",
			in:   "MFG:ACME;DES:Printer: 80 mm;",
			mfg:  "ACME", description: "Printer: 80 mm",
		},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ParseDeviceID(tt.in)
			if id.Manufacturer != tt.mfg || id.Model != tt.mdl || id.Serial != tt.sn || id.Class != tt.cls || id.Description != tt.description {
				t.Errorf("got MFG %q MDL %q SN %q CLS %q DES %q, want %q %q %q %q %q",
					id.Manufacturer, id.Model, id.Serial, id.Class, id.Description, tt.mfg, tt.mdl, tt.sn, tt.cls, tt.description)
			}
			if !slices.Equal(id.CommandSet, tt.cmd) {
				t.Errorf("CommandSet = %q, want %q", id.CommandSet, tt.cmd)
			}
		})
	}
}

func TestParseDeviceIDFieldLimit(t *testing.T) {
	s := strings.Repeat("K:V;", 10) // same key: one field
	for i := range 1000 {
		s += "K" + strings.Repeat("x", i%7) + string(rune('A'+i%26)) + string(rune('A'+i/26%26)) + ":v;"
	}
	if n := len(ParseDeviceID(s).Fields); n > MaxDeviceIDFields {
		t.Fatalf("%d fields kept, want at most %d", n, MaxDeviceIDFields)
	}
}

func buf(s string, n int) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(n))
	return append(b, s...)
}

func TestParseDeviceIDBuffer(t *testing.T) {
	id := "MFG:EPSON;CMD:ESCPOS;MDL:TM-T20III;CLS:PRINTER;"
	tests := []struct {
		name    string
		in      []byte
		model   string
		wantErr bool
	}{
		{"big-endian length", buf(id, 2+len(id)), "TM-T20III", false},
		{"garbage after the length", append(buf(id, 2+len(id)), "MDL:WRONG;\xff\xfe"...), "TM-T20III", false},
		{"NUL padded buffer", append(buf(id, 1024), make([]byte, 1000)...), "TM-T20III", false},
		{"little-endian length", func() []byte {
			b := buf(id, 0)
			binary.LittleEndian.PutUint16(b, uint16(2+len(id)))
			return b
		}(), "TM-T20III", false},
		{"length larger than buffer", buf(id, 5000), "TM-T20III", false},
		{"length cuts the string", buf(id, 2+len("MFG:EPSON;CMD:ESCPOS;MDL:TM")), "TM", false},
		{"length zero", buf(id, 0), "TM-T20III", false},
		{"too short", []byte{0, 2}, "", true},
		{"no pairs", buf("hello", 7), "", true},
		{"all zero", make([]byte, 1024), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDeviceIDBuffer(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got.Model != tt.model {
				t.Errorf("Model = %q, want %q", got.Model, tt.model)
			}
		})
	}
}

func FuzzParseDeviceIDBuffer(f *testing.F) {
	f.Add(buf("MFG:EPSON;CMD:ESCPOS;MDL:TM-T20III;CLS:PRINTER;", 48))
	f.Add([]byte("\x00\x10mfg:a;mdl:b"))
	f.Add([]byte{0xff, 0xff, ':', ';'})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseDeviceIDBuffer(b)
		if err != nil {
			return
		}
		if len(id.Fields) > MaxDeviceIDFields {
			t.Fatalf("%d fields", len(id.Fields))
		}
		if len(id.Raw) > len(b) {
			t.Fatalf("Raw longer than input")
		}
		for k, v := range id.Fields {
			if strings.ContainsAny(k+v, "\x00\n\r") {
				t.Fatalf("control byte kept in %q:%q", k, v)
			}
		}
	})
}

func TestSuggestProfile(t *testing.T) {
	ps := core.Builtin()
	tests := []struct {
		name     string
		vid, pid uint16
		names    []string
		want     string
	}{
		{"usb id", 0x04b8, 0x0e28, nil, "epson-tm-t20iii"},
		{"usb id wins over model", 0x04b8, 0x0202, []string{"TM-T20III"}, "epson-tm-t88v"},
		{"model", 0x1234, 0x5678, []string{"TM-T20III"}, "epson-tm-t20iii"},
		{"longest model wins", 0, 0, []string{"TM-T88VI"}, "epson-tm-t88vi"},
		{"model inside product string", 0, 0, []string{"", "EPSON TM-m30 Receipt"}, "epson-tm-m30"},
		{"punctuation ignored", 0, 0, []string{"TSP143 (STR_T-001)"}, "star-tsp100"},
		{"generic clone", 0x0416, 0x5011, []string{"POS80 Printer"}, "generic-80mm"},
		{"generic 58", 0, 0, []string{"pos-58"}, "generic-58mm"},
		{"unknown", 0x1234, 0x5678, []string{"LaserJet"}, ""},
		{"nothing", 0, 0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SuggestProfile(ps, tt.vid, tt.pid, tt.names...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseHexID(t *testing.T) {
	for in, want := range map[string]uint16{"04b8": 0x04b8, "0x04B8": 0x04b8, "519": 0x0519, " ffff ": 0xffff} {
		if got, err := ParseHexID(in); err != nil || got != want {
			t.Errorf("ParseHexID(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "12345", "zz", "-1", "04b8:0e28"} {
		if _, err := ParseHexID(in); err == nil {
			t.Errorf("ParseHexID(%q): no error", in)
		}
	}
}

func TestName(t *testing.T) {
	for _, tt := range []struct {
		parts []string
		want  string
	}{
		{[]string{"TM-T20III"}, "tm-t20iii"},
		{[]string{"", "  ", "TSP143 (STR_T-001)"}, "tsp143-str-t-001"},
		{[]string{"--ñ--"}, "printer"},
		{nil, "printer"},
	} {
		if got := Name(tt.parts...); got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

func TestBlock(t *testing.T) {
	got := Block("tm-t20iii", "epson-tm-t20iii", "usblp",
		Attr{"vendor_id", "04b8"}, Attr{"product_id", "0e28"}, Attr{"serial", `X"1\`}, Attr{"baud", 9600}, Attr{"detach_kernel_driver", true})
	want := `printer "tm-t20iii" {
  profile = "epson-tm-t20iii"
  usblp {
    vendor_id            = "04b8"
    product_id           = "0e28"
    serial               = "X\"1\\"
    baud                 = 9600
    detach_kernel_driver = true
  }
}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, diags := hclsyntax.ParseConfig([]byte(got), "x.hcl", hcl.InitialPos); diags.HasErrors() {
		t.Errorf("block does not parse: %v", diags)
	}
	if strings.Contains(Block("x", "", "net", Attr{"address", "a:1"}), "profile") {
		t.Error("empty profile written")
	}
}

func TestPortStatus(t *testing.T) {
	tests := []struct {
		b     byte
		state core.PrinterState
	}{
		{0x18, core.StateOnline},   // selected, no error
		{0xd8, core.StateOnline},   // plus busy/ack bits, which are ignored
		{0x38, core.StatePaperOut}, // paper empty
		{0x30, core.StatePaperOut}, // paper empty pulls nERROR low: still paper out
		{0x10, core.StateError},    // nERROR low
		{0x08, core.StateOffline},  // not selected
		{0x00, core.StateError},    // not selected and error
	}
	for _, tt := range tests {
		s := PortStatus(tt.b)
		if got := s.State(); got != tt.state {
			t.Errorf("PortStatus(%#02x).State() = %s, want %s (%+v)", tt.b, got, tt.state, s)
		}
	}
	if d := PortStatus(0x20).Detail; !strings.Contains(d, "paper out") || !strings.Contains(d, "off line") {
		t.Errorf("detail %q", d)
	}
}

func TestMerge(t *testing.T) {
	port := PortStatus(0x18)
	dle := core.Status{Known: true, Online: false, CoverOpen: true}
	if got := Merge(port, dle).State(); got != core.StateCoverOpen {
		t.Errorf("cover open lost: %s", got)
	}
	if got := Merge(PortStatus(0x38), core.Status{Known: true, Online: true}).State(); got != core.StatePaperOut {
		t.Errorf("port paper out lost: %s", got)
	}
	if got := Merge(port, core.Status{}); got != port {
		t.Errorf("unknown DLE EOT changed the port status")
	}
	if got := Merge(core.Status{}, dle); got != dle {
		t.Errorf("unknown port status changed the DLE EOT status")
	}
}
