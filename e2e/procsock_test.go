package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownedBy reports whether the TCP socket bound to addr (a 127.0.0.1
// address, e.g. the client side of a connection a proxy accepted) is open
// in process pid. It reads /proc/net/tcp for the socket's inode and then
// pid's descriptors: how a proxy shared by every broker tells whose
// outgoing connection it holds. False when the socket is gone.
func ownedBy(pid int, addr net.Addr) bool {
	inode, ok := socketInode(addr)
	if !ok {
		return false
	}
	want := "socket:[" + inode + "]"
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}

// socketInode finds the inode of the IPv4 TCP socket whose local address
// is addr in /proc/net/tcp (addresses there are hex, the IPv4 address in
// the kernel's byte order: 127.0.0.1:8080 is 0100007F:1F90).
func socketInode(addr net.Addr) (string, bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || ta.IP.To4() == nil {
		return "", false
	}
	ip := ta.IP.To4()
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], ta.Port)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(fields) >= 10 && fields[1] == local {
			if _, err := strconv.ParseUint(fields[9], 10, 64); err == nil && fields[9] != "0" {
				return fields[9], true
			}
		}
	}
	return "", false
}
