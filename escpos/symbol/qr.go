package symbol

import (
	"errors"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxQRData is the most data bytes GS ( k stores for a QR code (Epson: 7089,
// the numeric capacity of version 40-L). Byte data fits up to 2953 bytes.
const MaxQRData = 7089

// QR returns the module matrix of a QR code (model 2) for data, true = dark,
// indexed [y][x], without the quiet zone. level is the error correction
// level: 'L', 'M', 'Q' or 'H' (lower case too), or GS ( k's n = 48–51
// ('0'–'3'). The version is the smallest that holds the data, as a printer
// chooses it; the data is encoded as bytes, with numeric and alphanumeric
// runs packed tighter, without ECI.
func QR(data []byte, level byte) (m [][]bool, err error) {
	var lv qrcode.RecoveryLevel
	switch level {
	case 'L', 'l', '0':
		lv = qrcode.Low
	case 'M', 'm', '1':
		lv = qrcode.Medium
	case 'Q', 'q', '2':
		lv = qrcode.High
	case 'H', 'h', '3':
		lv = qrcode.Highest
	default:
		return nil, fmt.Errorf("symbol: qr: error correction level %s, want L, M, Q or H", show(level))
	}
	if len(data) == 0 {
		return nil, errors.New("symbol: qr: no data")
	}
	if len(data) > MaxQRData {
		return nil, fmt.Errorf("symbol: qr: %d bytes of data, at most %d", len(data), MaxQRData)
	}
	// go-qrcode reports internal inconsistencies with log.Panic; data from
	// outside must never crash the simulator.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("symbol: qr: encoder failure: %v", r)
		}
	}()
	q, err := qrcode.New(string(data), lv)
	if err != nil {
		return nil, fmt.Errorf("symbol: qr: %d bytes do not fit a QR code at level %c: %v", len(data), "LMQH"[lv], err)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}
