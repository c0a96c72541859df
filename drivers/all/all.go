// Package all imports the default set of drivers for their side effect of
// registering with core. Import it blank from a main package:
//
//	import _ "github.com/comandera/comandera/drivers/all"
package all

import (
	_ "github.com/comandera/comandera/drivers/libusb"
	_ "github.com/comandera/comandera/drivers/net"
	_ "github.com/comandera/comandera/drivers/serial"
	_ "github.com/comandera/comandera/drivers/sim"
	_ "github.com/comandera/comandera/drivers/usblp"
)
