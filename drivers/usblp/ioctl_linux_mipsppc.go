//go:build linux && (mips || mipsle || mips64 || mips64le || ppc64 || ppc64le)

package usblp

// iocDirShift is where the direction bits of an ioctl number start on MIPS
// and PowerPC, whose _IOC size field is 13 bits wide.
const iocDirShift = 29
