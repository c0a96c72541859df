package sim

import "fmt"

// bs concatenates strings, byte slices and small integers into printer bytes.
func bs(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		case byte:
			b = append(b, v)
		case int:
			b = append(b, byte(v))
		case rune:
			b = append(b, byte(v))
		default:
			panic(fmt.Sprintf("bs: %T", p))
		}
	}
	return b
}

// ESC/POS bytes for tests.
const (
	esc = 0x1b
	gs  = 0x1d
	fs  = 0x1c
	dle = 0x10
	lf  = 0x0a
	ht  = 0x09
)
