package nat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// SipgoSender is the Sender over a sipgo client: each Ping is one
// non-INVITE client transaction, so sipgo retransmits the OPTIONS on UDP
// (Timer A) until a response, the transaction timeout or ctx.
type SipgoSender struct {
	client *sipgo.Client
	laddr  sip.Addr
	host   string // Via sent-by and From host
	port   int
}

// SipgoOptions configure a SipgoSender.
type SipgoOptions struct {
	// LocalAddr is the bound address of the UDP listener phones register
	// on (server.Server.Addr("udp")); required. Pings must leave from that
	// socket: a NAT pinhole admits only datagrams from the address and
	// port the phone sent its REGISTER to, and only those refresh it.
	LocalAddr string
	// Host is the address put in Via and From. Empty: LocalAddr's IP,
	// or, when the listener is bound to a wildcard address, the IP of
	// the socket which sipgo fills in (phones answer to the packet's
	// source anyway, as the Via carries rport).
	Host string
}

// NewSipgoSender returns a Sender that sends through c from the UDP
// listener at opt.LocalAddr, which must be served by c's user agent.
func NewSipgoSender(c *sipgo.Client, opt SipgoOptions) (*SipgoSender, error) {
	if c == nil {
		return nil, errors.New("nat: nil sipgo client")
	}
	ap, err := netip.ParseAddrPort(opt.LocalAddr)
	if err != nil {
		return nil, fmt.Errorf("nat: local address %q: want the UDP listener's ip:port: %w", opt.LocalAddr, err)
	}
	s := &SipgoSender{client: c, host: opt.Host}
	// sipgo finds the listener socket by its address as the socket
	// reports it ("0.0.0.0:5060", "[::]:5060"), so rebuild it that way.
	s.laddr = sip.Addr{IP: net.IP(ap.Addr().AsSlice()), Port: int(ap.Port()), Hostname: ap.Addr().String()}
	if s.host == "" && !ap.Addr().IsUnspecified() {
		s.host = ap.Addr().String()
		s.port = int(ap.Port())
	}
	return s, nil
}

// Ping implements Sender.
func (s *SipgoSender) Ping(ctx context.Context, target, addr string) error {
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		return fmt.Errorf("ping %s: request-URI: %w", target, err)
	}
	req := sip.NewRequest(sip.OPTIONS, ruri)
	req.SetTransport("UDP")
	req.SetDestination(addr)
	s.laddr.Copy(&req.Laddr)

	// Build every mandatory header here rather than leave it to the
	// client's defaults, so the request does not depend on how the
	// client or user agent was configured.
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: s.host, Port: s.port}
	via.Params.Add("branch", sip.GenerateBranch())
	// rport (RFC 3581): answer to the port this came from, which is the
	// pinhole's, whatever Via says.
	via.Params.Add("rport", "")
	fromHost := s.host
	if fromHost == "" {
		fromHost = "sentral.invalid"
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "sentral", Host: fromHost}}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: ruri.Scheme, User: ruri.User, Host: ruri.Host, Port: ruri.Port}}
	callID := sip.CallIDHeader(sip.GenerateTagN(24) + "@sentral")
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)

	res, err := s.client.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("ping %s via %s: %w", target, addr, err)
	}
	_ = res // any final response, even 404 or 405, proves the phone is there
	return nil
}
