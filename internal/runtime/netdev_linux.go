package runtime

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// moveNetDevices moves the host's network devices named in
// linux.netDevices into the container's network namespace (the one of
// pid), renaming them as asked. One RTM_NEWLINK request per device carries
// both: the kernel uses IFLA_IFNAME as the name in the target namespace
// (see rtnetlink(7)). Physical devices return to the host when the
// namespace is destroyed; virtual ones are deleted with it.
func moveNetDevices(pid int, devices map[string]specs.LinuxNetDevice) error {
	if len(devices) == 0 {
		return nil
	}
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	for hostName, d := range devices {
		ifc, err := net.InterfaceByName(hostName)
		if err != nil {
			return fmt.Errorf("network device %s: %w", hostName, err)
		}
		name := d.Name
		if name == "" {
			name = hostName
		}
		if err := setLinkNetns(ifc.Index, int(ns.Fd()), name); err != nil {
			return fmt.Errorf("move network device %s into the container as %s: %w", hostName, name, err)
		}
	}
	return nil
}

func setLinkNetns(index, nsFD int, name string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	attr := func(typ uint16, data []byte) []byte {
		l := unix.SizeofRtAttr + len(data)
		b := make([]byte, (l+3)&^3)
		binary.NativeEndian.PutUint16(b[0:], uint16(l))
		binary.NativeEndian.PutUint16(b[2:], typ)
		copy(b[unix.SizeofRtAttr:], data)
		return b
	}
	nsfd := make([]byte, 4)
	binary.NativeEndian.PutUint32(nsfd, uint32(nsFD))
	body := make([]byte, unix.SizeofIfInfomsg)
	body[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(body[4:], uint32(index))
	body = append(body, attr(unix.IFLA_NET_NS_FD, nsfd)...)
	body = append(body, attr(unix.IFLA_IFNAME, append([]byte(name), 0))...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWLINK)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
	return fmt.Errorf("no answer from netlink")
}
