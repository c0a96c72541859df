package symbol

import (
	"errors"
	"fmt"
)

// CODE128 is encoded here: ESC/POS data chooses the code sets explicitly
// ("{A", "{B", "{C", shift "{S") and sends set C digit pairs as single bytes
// 0–99, while boombuler/barcode/code128 picks the code sets itself from text.

// code128Widths holds the bar/space widths of symbol values 0–105 and the
// stop pattern (106), as digits, from ISO/IEC 15417.
var code128Widths = [107]string{
	"212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
	"221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
	"221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
	"212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
	"231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
	"231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
	"314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
	"112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
	"111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
	"214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
	"114131", "311141", "411131", "211412", "211214", "211232", "2331112",
}

// Symbol values with a fixed meaning.
const (
	c128FNC3   = 96
	c128FNC2   = 97
	c128Shift  = 98
	c128CodeC  = 99
	c128CodeB  = 100 // FNC4 in set B
	c128CodeA  = 101 // FNC4 in set A
	c128FNC1   = 102
	c128StartA = 103
	c128Stop   = 106
)

// code128 follows Epson's GS k CODE128 rules: the data starts with a code set
// selector; '{' introduces a special character ("{A" "{B" "{C" code set,
// "{S" shift, "{1".."{4" FNC1–FNC4, "{{" a literal '{'); in set C each byte
// 0–99 is one digit pair. The check character is computed. The HRI omits
// shift and code set characters and prints FNC1–4 and control characters as
// spaces.
func code128(data []byte) (*Code, error) {
	if len(data) < 2 || data[0] != '{' || data[1] < 'A' || data[1] > 'C' {
		return nil, errors.New(`the data must begin with a code set selector "{A", "{B" or "{C"`)
	}
	set := data[1]
	values := []int{c128StartA + int(set-'A')}
	hri := make([]byte, 0, len(data))
	shifted := false // the next data character is in the other of sets A and B
	chars := 0
	for i := 2; i < len(data); i++ {
		c := data[i]
		if c == '{' {
			if i+1 == len(data) {
				return nil, errors.New(`'{' at the end of the data (send "{{" for a literal '{')`)
			}
			i++
			s := data[i]
			if shifted && s != '{' {
				return nil, fmt.Errorf(`"{S" must be followed by a data character, not "{%c"`, s)
			}
			switch s {
			case 'A', 'B', 'C':
				if s != set { // selecting the current set again changes nothing
					values = append(values, map[byte]int{'A': c128CodeA, 'B': c128CodeB, 'C': c128CodeC}[s])
					set = s
				}
				continue
			case 'S':
				if set == 'C' {
					return nil, errors.New(`shift "{S" is not allowed in code set C`)
				}
				values = append(values, c128Shift)
				shifted = true
				continue
			case '1':
				values = append(values, c128FNC1)
				hri = append(hri, ' ')
				continue
			case '2', '3', '4':
				if set == 'C' {
					return nil, fmt.Errorf(`FNC%c "{%c" is not allowed in code set C`, s, s)
				}
				v := map[byte]int{'2': c128FNC2, '3': c128FNC3}[s]
				if s == '4' {
					v = c128CodeA // FNC4 in set A
					if set == 'B' {
						v = c128CodeB
					}
				}
				values = append(values, v)
				hri = append(hri, ' ')
				continue
			case '{':
				// a literal '{', encoded below
			default:
				return nil, fmt.Errorf(`unknown special character "{%s" (want {A {B {C {S {1 {2 {3 {4 or {{)`, printable(s))
			}
		}
		cs := set
		if shifted {
			cs = 'A' + 'B' - set
			shifted = false
		}
		var v int
		switch {
		case cs == 'A' && c < 32:
			v = int(c) + 64
		case cs == 'A' && c < 96:
			v = int(c) - 32
		case cs == 'B' && c >= 32 && c < 128:
			v = int(c) - 32
		case cs == 'C' && c < 100:
			v = int(c)
		default:
			return nil, fmt.Errorf("byte %d (%s) cannot be encoded in code set %c", i+1, show(c), cs)
		}
		values = append(values, v)
		chars++
		switch {
		case cs == 'C':
			hri = append(hri, '0'+c/10, '0'+c%10)
		case c < 32 || c == 127:
			hri = append(hri, ' ')
		default:
			hri = append(hri, c)
		}
	}
	if shifted {
		return nil, errors.New(`shift "{S" at the end of the data`)
	}
	if chars == 0 {
		return nil, errors.New("no data characters after the code set selector")
	}
	sum := values[0]
	for i, v := range values[1:] {
		sum += v * (i + 1)
	}
	values = append(values, sum%103, c128Stop)

	bars := make([]uint8, 0, len(values)*6+1)
	for _, v := range values {
		for _, w := range code128Widths[v] {
			bars = append(bars, uint8(w-'0'))
		}
	}
	return &Code{bars: bars, HRI: string(hri)}, nil
}

func printable(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return string(rune(c))
	}
	return fmt.Sprintf("\\x%02X", c)
}
