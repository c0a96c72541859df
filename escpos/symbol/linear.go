package symbol

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	bcodabar "github.com/boombuler/barcode/codabar"
	bcode39 "github.com/boombuler/barcode/code39"
	bcode93 "github.com/boombuler/barcode/code93"
	"github.com/boombuler/barcode/twooffive"
)

// CODE39, ITF, CODABAR and CODE93 are drawn by boombuler/barcode, whose
// encoding matches the printer's once the data is checked and framed the
// ESC/POS way here.

const code39Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -.$/+%"

// code39: start/stop '*' is added unless sent; a '*' after the first byte is
// the stop character, and what follows it is ordinary data (Code.Rest). No
// check digit. The HRI shows the start/stop characters.
func code39(data []byte) (*Code, error) {
	d := data
	if d[0] == '*' {
		d = d[1:]
	}
	var rest []byte
	if i := bytes.IndexByte(d, '*'); i >= 0 {
		d, rest = d[:i], d[i+1:]
	}
	if len(d) == 0 {
		return nil, errors.New("no data between the start and stop characters '*'")
	}
	for _, c := range d {
		if strings.IndexByte(code39Chars, c) < 0 {
			return nil, fmt.Errorf("%s is not a CODE39 character (0-9 A-Z space - . $ / + %%)", show(c))
		}
	}
	bc, err := bcode39.Encode(string(d), false, false)
	if err != nil {
		return nil, err
	}
	c, err := runs(bc, true)
	if err != nil {
		return nil, err
	}
	c.HRI = "*" + string(d) + "*"
	if len(rest) > 0 {
		c.Rest = rest
	}
	return c, nil
}

// itf: an even number of digits, no check digit.
func itf(data []byte) (*Code, error) {
	if len(data)%2 != 0 {
		return nil, fmt.Errorf("%d digits, ITF needs an even number", len(data))
	}
	if _, err := digits(data); err != nil {
		return nil, err
	}
	bc, err := twooffive.Encode(string(data), true)
	if err != nil {
		return nil, err
	}
	c, err := runs(bc, true)
	if err != nil {
		return nil, err
	}
	c.HRI = string(data)
	return c, nil
}

const codabarChars = "0123456789-$:/.+"

// codabar: the data carries its own start and stop characters A–D (a–d on
// some models); no check digit. The HRI is the data as sent.
func codabar(data []byte) (*Code, error) {
	startStop := func(c byte) bool { return c >= 'A' && c <= 'D' || c >= 'a' && c <= 'd' }
	if len(data) < 2 || !startStop(data[0]) || !startStop(data[len(data)-1]) {
		return nil, errors.New("the data must begin and end with a start/stop character A-D")
	}
	for _, c := range data[1 : len(data)-1] {
		if strings.IndexByte(codabarChars, c) < 0 {
			return nil, fmt.Errorf("%s is not a CODABAR data character (0-9 - $ : / . +)", show(c))
		}
	}
	bc, err := bcodabar.Encode(strings.ToUpper(string(data)))
	if err != nil {
		return nil, err
	}
	c, err := runs(bc, true)
	if err != nil {
		return nil, err
	}
	c.HRI = string(data)
	return c, nil
}

// code93: full ASCII 0–127; start/stop and the two check characters C and K
// are added. The HRI shows start/stop as □ and control characters as ■
// followed by their full-ASCII letter, as Epson documents.
func code93(data []byte) (*Code, error) {
	var hri strings.Builder
	hri.WriteString("□")
	for _, c := range data {
		switch {
		case c > 127:
			return nil, fmt.Errorf("%s is not ASCII (CODE93 takes bytes 0-127)", show(c))
		case c == 0:
			hri.WriteString("■U")
		case c <= 26:
			hri.WriteString("■" + string(rune('A'+c-1)))
		case c <= 31:
			hri.WriteString("■" + string(rune('A'+c-27)))
		case c == 127:
			hri.WriteString("■T")
		default:
			hri.WriteByte(c)
		}
	}
	hri.WriteString("□")
	bc, err := bcode93.Encode(string(data), true, true)
	if err != nil {
		return nil, err
	}
	c, err := runs(bc, false)
	if err != nil {
		return nil, err
	}
	c.HRI = hri.String()
	return c, nil
}
