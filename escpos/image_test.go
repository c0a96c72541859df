package escpos

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

// bandHeights returns the height of every raster band the ops print.
func bandHeights(t *testing.T, ops []op) (heights []int, rows int) {
	t.Helper()
	for _, o := range ops {
		switch o.name {
		case "GS v 0":
			h := int(o.args[3]) | int(o.args[4])<<8
			heights = append(heights, h)
			rows += h
		case "GS ( L", "GS 8 L":
			if o.data[1] != 112 { // fn=50 prints; fn=112 stores a band
				continue
			}
			h := int(o.data[8]) | int(o.data[9])<<8
			w := int(o.data[6]) | int(o.data[7])<<8
			if len(o.data) != 10+(w+7)/8*h {
				t.Fatalf("GS ( L store: %d bytes for %d×%d", len(o.data), w, h)
			}
			heights = append(heights, h)
			rows += h
		case "ESC *":
			heights = append(heights, 24)
			rows += 24
		}
	}
	return heights, rows
}

// TestImageBands encodes a tall image with every raster method and several
// band limits: no band is taller than the profile allows and all the rows
// are sent.
func TestImageBands(t *testing.T) {
	png := testPNG(t, 300, 700, func(x, y int) color.Color {
		if (x/10+y/10)%2 == 0 {
			return color.Black
		}
		return color.White
	})
	for _, method := range []string{core.RasterGSv0, core.RasterGS8L, core.RasterESCStar} {
		for _, band := range []int{24, 100, 256, 2303} {
			p := profile(t, "epson-tm-t20iii")
			p.Raster, p.MaxBandHeight = method, band
			out, err := Encode(core.Document{{Kind: core.KindImage, Image: png, Align: "center"}}, p)
			if err != nil {
				t.Fatal(err)
			}
			ops := parseOut(t, out)
			heights, rows := bandHeights(t, ops)
			for _, h := range heights {
				if h > band {
					t.Errorf("%s, max band %d: a band of %d dots", method, band, h)
				}
			}
			if method == core.RasterESCStar {
				if rows != 720 { // 700 rounded up to 24-dot stripes
					t.Errorf("%s: %d rows sent, want 720", method, rows)
				}
			} else if rows != 700 {
				t.Errorf("%s, max band %d: %d rows sent, want 700", method, band, rows)
			}
			if method == core.RasterGS8L {
				var stores, prints int
				for _, o := range ops {
					if o.name == "GS ( L" || o.name == "GS 8 L" {
						if o.data[1] == 112 {
							stores++
						} else if o.data[1] == 50 {
							prints++
						}
					}
				}
				if stores != prints || stores != len(heights) {
					t.Errorf("gs_8_l: %d stores, %d prints", stores, prints)
				}
			}
		}
	}
}

// TestImageGS8LLongForm: a band too large for GS ( L's 16-bit length uses
// GS 8 L with a 32-bit length.
func TestImageGS8LLongForm(t *testing.T) {
	p := profile(t, "epson-tm-t20iii") // 2303-dot bands
	p.Raster = core.RasterGS8L
	img := testPNG(t, 576, 1000, func(x, y int) color.Color { return color.Black })
	out, err := Encode(core.Document{{Kind: core.KindImage, Image: img}}, p)
	if err != nil {
		t.Fatal(err)
	}
	var long int
	for _, o := range parseOut(t, out) {
		if o.name == "GS 8 L" {
			long++
		}
	}
	if long != 1 {
		t.Errorf("%d GS 8 L commands, want 1 for a 72000-byte band", long)
	}
}

// TestDitherMidGrey: a mid-grey image dithers to about half black dots.
func TestDitherMidGrey(t *testing.T) {
	for _, grey := range []uint8{64, 128, 192} {
		img := image.NewRGBA(image.Rect(0, 0, 200, 100))
		for i := range img.Pix {
			img.Pix[i] = grey
			if i%4 == 3 {
				img.Pix[i] = 255
			}
		}
		b := dither(img)
		black := 0
		for y := 0; y < b.h; y++ {
			for x := 0; x < b.w; x++ {
				if b.black(x, y) {
					black++
				}
			}
		}
		frac := float64(black) / float64(b.w*b.h)
		want := 1 - float64(grey)/255
		if frac < want-0.03 || frac > want+0.03 {
			t.Errorf("grey %d: %.3f black, want about %.3f", grey, frac, want)
		}
	}
}

// pngWithHeader returns a valid small PNG whose IHDR claims w×h, with the
// header's CRC fixed so DecodeConfig accepts it: what a decompression bomb
// looks like before its data is inflated.
func pngWithHeader(t *testing.T, w, h uint32) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// 8-byte signature, then IHDR: length(4) "IHDR"(4) width(4) height(4) … CRC.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestImageRefusesBombsAndNonPNG(t *testing.T) {
	p := profile(t, "generic-80mm")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"bomb", pngWithHeader(t, 100000, 100000), "(10000000000 pixels), more than the 8388608 pixels"},
		{"just over", pngWithHeader(t, 4097, 2048), "more than the 8388608 pixels"},
		{"empty header", pngWithHeader(t, 0, 0), "image: not a readable PNG"},
		{"truncated", pngWithHeader(t, 64, 64), "image: bad PNG"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image: not a readable PNG"},
		{"garbage", []byte("hello"), "image: not a readable PNG"},
	} {
		_, err := Encode(core.Document{{Kind: core.KindImage, Image: tc.data}}, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestImageAlphaIsWhite: transparent pixels print as paper, whatever their
// colour; opaque black prints.
func TestImageAlphaIsWhite(t *testing.T) {
	data := testPNG(t, 64, 32, func(x, y int) color.Color {
		if x < 32 {
			return color.NRGBA{0, 0, 0, 0} // transparent black
		}
		return color.NRGBA{0, 0, 0, 255}
	})
	b, err := decodePNG(data, 576)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < b.h; y++ {
		for x := 0; x < b.w; x++ {
			if got, want := b.black(x, y), x >= 32; got != want {
				t.Fatalf("dot (%d,%d) black=%v, want %v", x, y, got, want)
			}
		}
	}
}

// TestImageScaling: wide images shrink to the paper, tall ones to
// core.MaxImageHeight, small ones stay as they are.
func TestImageScaling(t *testing.T) {
	white := func(x, y int) color.Color { return color.White }
	for _, tc := range []struct {
		w, h, dots   int
		wantW, wantH int
	}{
		{1000, 500, 576, 576, 288},
		{800, 100, 384, 384, 48},
		{100, 50, 576, 100, 50},
		{100, 10000, 576, 82, core.MaxImageHeight},
		{1500, 1000, 512, 512, 341},
	} {
		b, err := decodePNG(testPNG(t, tc.w, tc.h, white), tc.dots)
		if err != nil {
			t.Fatal(err)
		}
		if b.w != tc.wantW || b.h != tc.wantH {
			t.Errorf("%d×%d on %d dots: %d×%d, want %d×%d", tc.w, tc.h, tc.dots, b.w, b.h, tc.wantW, tc.wantH)
		}
	}
}

// TestImageAlignment: GS v 0 is aligned with ESC a; the other methods are
// padded with white dots, which works whatever the firmware does with ESC a.
func TestImageAlignment(t *testing.T) {
	img := testPNG(t, 16, 24, func(x, y int) color.Color { return color.Black })
	p := profile(t, "generic-80mm")
	out, _ := Encode(core.Document{{Kind: core.KindImage, Image: img, Align: "right"}}, p)
	if !bytes.HasPrefix(out[5:], []byte{ESC, 'a', 2, GS, 'v', '0', 0, 2, 0, 24, 0}) {
		t.Errorf("gs_v_0 right: % x", out[5:16])
	}
	p.Raster = core.RasterGS8L
	out, _ = Encode(core.Document{{Kind: core.KindImage, Image: img, Align: "right"}}, p)
	for _, o := range parseOut(t, out) {
		if o.name == "ESC a" {
			t.Error("gs_8_l sent ESC a")
		}
		if o.name == "GS ( L" && o.data[1] == 112 {
			if w := int(o.data[6]) | int(o.data[7])<<8; w != 576 {
				t.Errorf("gs_8_l right-aligned band is %d dots wide, want 576", w)
			}
			row := o.data[10 : 10+72]
			if row[0] != 0 || row[69] != 0 || row[70] != 0xff || row[71] != 0xff {
				t.Errorf("first row % x: want the image in the last 16 dots", row)
			}
		}
	}
}
