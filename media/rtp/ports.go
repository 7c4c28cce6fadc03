// Package rtp runs the RTP side of call legs that Sentral itself
// terminates or anchors (voicemail, queues, music on hold, the WebRTC
// bridge): a socket pair per leg from a configured port range, RTP send
// and receive over pion/rtp with symmetric latching for phones behind NAT,
// RTCP reports over pion/rtcp, a dead-media timer, and a jitter buffer for
// consumers that need every frame in order.
package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// ErrPortsExhausted is returned by Ports.Listen when no pair is free.
var ErrPortsExhausted = errors.New("rtp: port range exhausted")

// Ports hands out RTP/RTCP port pairs from a range on one IP address: RTP
// on an even port, RTCP on the odd port above it (RFC 3550 §11). Safe for
// concurrent use.
type Ports struct {
	ip        netip.Addr
	network   string
	first     int // first RTP port (even)
	last      int // last RTP port (even); last+1 is in the range
	mu        sync.Mutex
	used      map[int]bool
	next      int
	lastError error // the last bind failure, for the exhaustion message
}

// NewPorts returns an allocator over the ports min..max inclusive on ip
// (e.g. 10000-20000). An odd min or an even max leaves its port unused, so
// that every pair sits inside the range a firewall was opened for.
func NewPorts(ip netip.Addr, min, max int) (*Ports, error) {
	if !ip.IsValid() {
		return nil, errors.New("rtp ports: no IP address")
	}
	ip = ip.Unmap()
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("rtp ports: bad range %d-%d", min, max)
	}
	first := min + min%2
	last := max - 1
	if last%2 != 0 {
		last--
	}
	if first > last {
		return nil, fmt.Errorf("rtp ports: range %d-%d holds no even/odd pair", min, max)
	}
	network := "udp4"
	if ip.Is6() {
		network = "udp6"
	}
	return &Ports{ip: ip, network: network, first: first, last: last, used: map[int]bool{}, next: first}, nil
}

// Size returns how many pairs the range holds.
func (p *Ports) Size() int { return (p.last-p.first)/2 + 1 }

// InUse returns how many pairs are handed out.
func (p *Ports) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

// IP returns the address the sockets bind to.
func (p *Ports) IP() netip.Addr { return p.ip }

// Listen binds the next free pair. The search goes round the range
// instead of restarting at its bottom, so a port just released is reused
// as late as possible: stray packets of the previous call then cannot be
// latched by the next one. A port busy in another process is skipped.
func (p *Ports) Listen() (*Pair, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tried := 0
	for range p.Size() {
		port := p.next
		p.next += 2
		if p.next > p.last {
			p.next = p.first
		}
		if p.used[port] {
			continue
		}
		tried++
		rtpConn, err := net.ListenUDP(p.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			p.lastError = err
			continue
		}
		rtcpConn, err := net.ListenUDP(p.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			p.lastError = err
			_ = rtpConn.Close()
			continue
		}
		p.used[port] = true
		return &Pair{RTP: rtpConn, RTCP: rtcpConn, port: port, owner: p}, nil
	}
	if tried > 0 {
		return nil, fmt.Errorf("%w: %s %d-%d: %d of %d pairs in use, the rest failed to bind: %v",
			ErrPortsExhausted, p.ip, p.first, p.last+1, len(p.used), p.Size(), p.lastError)
	}
	return nil, fmt.Errorf("%w: %s %d-%d: all %d pairs in use", ErrPortsExhausted, p.ip, p.first, p.last+1, p.Size())
}

func (p *Ports) release(port int) {
	p.mu.Lock()
	delete(p.used, port)
	p.mu.Unlock()
}

// Pair is a bound RTP/RTCP socket pair from Ports.
type Pair struct {
	RTP, RTCP *net.UDPConn
	port      int
	owner     *Ports
	once      sync.Once
	isClosed  atomic.Bool
}

// Port returns the RTP port; RTCP is Port()+1.
func (s *Pair) Port() int { return s.port }

// Addr returns the RTP socket's address, for the SDP.
func (s *Pair) Addr() netip.AddrPort {
	return netip.AddrPortFrom(s.owner.ip, uint16(s.port))
}

// Close closes both sockets and returns the pair to the range; later
// calls do nothing.
func (s *Pair) Close() error {
	var err error
	s.once.Do(func() {
		s.isClosed.Store(true)
		err = errors.Join(s.RTP.Close(), s.RTCP.Close())
		s.owner.release(s.port)
	})
	return err
}

func (s *Pair) closed() bool { return s.isClosed.Load() }
