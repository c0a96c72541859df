//go:build linux && !(mips || mipsle || mips64 || mips64le || ppc64 || ppc64le)

package usblp

// iocDirShift is where the direction bits of an ioctl number start in the
// kernel's generic _IOC encoding (x86, arm, arm64, riscv64, loong64, s390x).
const iocDirShift = 30
