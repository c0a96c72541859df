// Package all imports the default set of drivers for their side effect of
// registering with core. Import it blank from a main package:
//
//	import _ "github.com/comandera/comandera/drivers/all"
package all
