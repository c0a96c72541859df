//go:build integration

package font

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// spanish is kitchen-ticket text with every Spanish accented letter.
var spanish = []string{
	"COCINA MESA 12",
	"Camarero: Lucía Muñoz",
	"2x Tortilla española 17,00",
	"1x Jamón ibérico 22,50",
	"Pingüino helado, ¿sin azúcar?",
	"¡Atención! Salmón a la plancha",
	"ÁRBOL ÉXITO ÍNDICE ÓRGANO ÚNICO ÑANDÚ",
}

// render draws lines of text in face f at an integer scale, with a margin.
func render(f *Face, lines []string, bold bool, scale int) *image.Gray {
	w, h := f.Cell()
	cols := 0
	for _, l := range lines {
		cols = max(cols, len([]rune(l)))
	}
	const margin = 2 // cells
	img := image.NewGray(image.Rect(0, 0, (cols+2*margin)*w*scale, (len(lines)+2*margin)*h*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	for row, l := range lines {
		for col, r := range []rune(l) {
			g := f.Glyph(r, bold)
			for y := 0; y < h*scale; y++ {
				for x := 0; x < w*scale; x++ {
					if g[(y/scale)*w+x/scale] == 1 {
						img.Pix[((row+margin)*h*scale+y)*img.Stride+(col+margin)*w*scale+x] = 0
					}
				}
			}
		}
	}
	return img
}

// TestOCR renders Spanish text at 2× and reads it back with tesseract
// (apt-get install tesseract-ocr tesseract-ocr-spa):
//
//	go test -tags integration -run OCR -v ./drivers/sim/font/
func TestOCR(t *testing.T) {
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatal("tesseract not installed: apt-get install -y tesseract-ocr tesseract-ocr-spa")
	}
	// Font A (the receipt font) must read almost perfectly; the small Font B
	// loses some accents at 9×17 (as a printer's does).
	for _, tc := range []struct {
		name   string
		face   *Face
		bold   bool
		maxCER float64
	}{{"A", A, false, 0.03}, {"A-bold", A, true, 0.03}, {"B", B, false, 0.08}, {"B-bold", B, true, 0.08}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := png.Encode(&buf, render(tc.face, spanish, tc.bold, 2)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "ocr.png")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("tesseract", path, "-", "-l", "spa", "--psm", "6").Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("tesseract (needs tesseract-ocr-spa): %v\n%s", err, stderr)
			}
			got := strings.Join(nonEmptyLines(string(out)), "\n")
			want := strings.Join(spanish, "\n")
			d := distance([]rune(got), []rune(want))
			cer := float64(d) / float64(len([]rune(want)))
			t.Logf("font %s: %d edits in %d characters (CER %.1f%%); OCR read:\n%s", tc.name, d, len([]rune(want)), cer*100, got)
			if cer > tc.maxCER {
				t.Errorf("font %s: character error rate %.1f%% > %.1f%%", tc.name, cer*100, tc.maxCER*100)
			}
		})
	}
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}
