package escpos

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

// The golden files of the encoder live in testdata/encode; `go test
// ./escpos -run Encode -update` rewrites them. The flag may be shared with
// other tests of this package, so it is registered only if nobody has.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares got, as a hex dump, with testdata/encode/name.hex.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "encode", name+".hex")
	dump := hexDump(got)
	if updateGoldens() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./escpos -run Encode -update to create it)", err)
	}
	if string(want) != dump {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(dump, "\n")
		for i := 0; i < max(len(wl), len(gl)); i++ {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s differs at line %d:\nwant %s\ngot  %s", path, i+1, w, g)
			}
		}
	}
}

// hexDump is a stable hex dump: 16 bytes a line, offset, hex, printable ASCII.
func hexDump(b []byte) string {
	var sb strings.Builder
	for off := 0; off < len(b); off += 16 {
		row := b[off:min(off+16, len(b))]
		fmt.Fprintf(&sb, "%08x ", off)
		for i := 0; i < 16; i++ {
			if i < len(row) {
				fmt.Fprintf(&sb, " %02x", row[i])
			} else {
				sb.WriteString("   ")
			}
		}
		sb.WriteString("  |")
		for _, c := range row {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			sb.WriteByte(c)
		}
		sb.WriteString("|\n")
	}
	return sb.String()
}

// An op is one command in encoder output, as the test parser reads it.
type op struct {
	name string // "ESC a", "GS v 0", "text", …
	args []byte // the parameters, or the text bytes
	data []byte // bulk data (raster, QR, barcode)
	page int    // for text: the ESC t number in force
}

// parseOut reads the commands the encoder emits and fails the test on any
// byte that is not one of them: it proves no control byte reaches the
// printer except in a command the encoder meant to send. It is not the
// package's decoder, only a checker for the encoder's own output.
func parseOut(t testing.TB, out []byte) []op {
	t.Helper()
	var ops []op
	page := -1
	i := 0
	need := func(n int) []byte {
		if i+n > len(out) {
			t.Fatalf("command at %d cut short: need %d bytes, have %d", i, n, len(out)-i)
		}
		b := out[i : i+n]
		i += n
		return b
	}
	u16 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 }
	for i < len(out) {
		c := out[i]
		start := i
		switch {
		case c == LF:
			i++
			ops = append(ops, op{name: "LF"})
		case c == ESC:
			i++
			cmd := need(1)[0]
			switch cmd {
			case '@', '2':
				ops = append(ops, op{name: "ESC " + string(cmd)})
				if cmd == '@' {
					page = -1
				}
			case 't', 'a', 'M', 'E', '-', 'd', 'J', '3':
				a := need(1)
				if cmd == 't' {
					page = int(a[0])
				}
				ops = append(ops, op{name: "ESC " + string(cmd), args: a})
			case 'p':
				ops = append(ops, op{name: "ESC p", args: need(3)})
			case '(':
				if need(1)[0] != 'A' {
					t.Fatalf("unexpected ESC ( at %d", start)
				}
				n := u16(need(2))
				ops = append(ops, op{name: "ESC ( A", args: need(n)})
			case '*':
				a := need(3)
				w := u16(a[1:])
				ops = append(ops, op{name: "ESC *", args: a, data: need(3 * w)})
			default:
				t.Fatalf("unexpected ESC %q at %d", cmd, start)
			}
		case c == GS:
			i++
			cmd := need(1)[0]
			switch cmd {
			case 'B', '!', 'h', 'w', 'H', 'f':
				ops = append(ops, op{name: "GS " + string(cmd), args: need(1)})
			case 'V':
				a := need(1)
				if a[0] == 65 || a[0] == 66 {
					a = append(a, need(1)...)
				}
				ops = append(ops, op{name: "GS V", args: a})
			case 'k':
				a := need(2)
				ops = append(ops, op{name: "GS k", args: a, data: need(int(a[1]))})
			case 'v':
				a := need(6)
				if a[0] != '0' {
					t.Fatalf("unexpected GS v %q", a[0])
				}
				ops = append(ops, op{name: "GS v 0", args: a[1:], data: need(u16(a[2:]) * u16(a[4:]))})
			case '(':
				sub := need(1)[0]
				n := u16(need(2))
				ops = append(ops, op{name: "GS ( " + string(sub), data: need(n)})
			case '8':
				if need(1)[0] != 'L' {
					t.Fatalf("unexpected GS 8 at %d", start)
				}
				p := need(4)
				n := int(p[0]) | int(p[1])<<8 | int(p[2])<<16 | int(p[3])<<24
				ops = append(ops, op{name: "GS 8 L", data: need(n)})
			default:
				t.Fatalf("unexpected GS %q at %d", cmd, start)
			}
		case c < 0x20 || c == 0x7f:
			t.Fatalf("control byte %#02x at %d outside any command", c, i)
		default:
			j := i
			for j < len(out) && out[j] >= 0x20 && out[j] != 0x7f {
				j++
			}
			ops = append(ops, op{name: "text", args: out[i:j], page: page})
			i = j
		}
	}
	return ops
}

// printedText returns the text the ops print, decoded with the code pages
// the profile numbers, one line per LF.
func printedText(t testing.TB, p *core.Profile, ops []op) string {
	t.Helper()
	var sb strings.Builder
	for _, o := range ops {
		switch o.name {
		case "text":
			name, ok := p.CodePageByNumber(o.page)
			if !ok {
				t.Fatalf("text printed in page %d, which %s does not have", o.page, p.Name)
			}
			cm, _ := core.CodePage(name)
			for _, b := range o.args {
				sb.WriteRune(cm.DecodeByte(b))
			}
		case "LF":
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// rasterImage rebuilds the picture the GS v 0 commands in ops print,
// stacking the bands, with a white margin of pad dots around it.
func rasterImage(t testing.TB, ops []op, pad int) *image.Gray {
	t.Helper()
	type band struct {
		stride, h int
		data      []byte
	}
	var bands []band
	w, h := 0, 0
	for _, o := range ops {
		if o.name != "GS v 0" {
			continue
		}
		b := band{stride: int(o.args[1]) | int(o.args[2])<<8, h: int(o.args[3]) | int(o.args[4])<<8, data: o.data}
		bands = append(bands, b)
		w = max(w, 8*b.stride)
		h += b.h
	}
	if len(bands) == 0 {
		t.Fatal("no GS v 0 in the output")
	}
	img := image.NewGray(image.Rect(0, 0, w+2*pad, h+2*pad))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	y0 := pad
	for _, b := range bands {
		for y := 0; y < b.h; y++ {
			for x := 0; x < 8*b.stride; x++ {
				if b.data[y*b.stride+x/8]&(0x80>>(x%8)) != 0 {
					img.SetGray(pad+x, y0+y, color.Gray{})
				}
			}
		}
		y0 += b.h
	}
	return img
}

// testPNG encodes a w×h PNG whose pixels f gives.
func testPNG(t testing.TB, w, h int, f func(x, y int) color.Color) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, f(x, y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// logoPNG is a small real logo: a black ring on a transparent background.
func logoPNG(t testing.TB, w, h int) []byte {
	return testPNG(t, w, h, func(x, y int) color.Color {
		dx, dy := float64(2*x-w)/float64(w), float64(2*y-h)/float64(h)
		r := dx*dx + dy*dy
		if r < 0.8 && r > 0.4 {
			return color.NRGBA{0, 0, 0, 255}
		}
		if r <= 0.4 {
			return color.NRGBA{200, 30, 30, 255} // red: dithers to a pattern
		}
		return color.NRGBA{}
	})
}

func profile(t testing.TB, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// escposProfiles returns the built-in profiles that speak ESC/POS.
func escposProfiles(t testing.TB) []*core.Profile {
	var ps []*core.Profile
	for _, name := range core.Builtin().Names() {
		p := profile(t, name)
		if p.CommandSet == core.CommandSetESCPOS {
			ps = append(ps, p)
		}
	}
	return ps
}
