package ldap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"go.uber.org/zap"
)

// session is one client connection. Requests are handled one at a time in
// the order received: phones do not pipeline, and it keeps the bind state
// free of races.
type session struct {
	srv  *Server
	conn net.Conn
	br   *bufio.Reader
	peer netip.Addr
	src  string // peer as logged
	tls  bool

	// bound is the tenant of the last successful bind; nil when anonymous.
	bound *tenant
}

// tenant is the identity of a bound connection.
type tenant struct {
	id   int64
	name string // lower case, as in DNs we return
}

// serveConn runs one connection until it closes, the client unbinds or ctx
// ends.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	defer c.Close()
	sess := &session{srv: s, conn: c, br: bufio.NewReader(c), src: c.RemoteAddr().String()}
	if ap, err := netip.ParseAddrPort(sess.src); err == nil {
		sess.peer = ap.Addr().Unmap()
	}
	_, sess.tls = c.(*tls.Conn)
	defer func() {
		// A bug in one request must not take the PBX down with it.
		if r := recover(); r != nil {
			s.log.Error("ldap session panic", zap.String("src", sess.src), zap.Any("panic", r),
				zap.ByteString("stack", debug.Stack()))
		}
	}()
	if err := sess.run(ctx); err != nil && ctx.Err() == nil {
		s.log.Debug("ldap connection closed", zap.String("src", sess.src), zap.Error(err))
	}
}

// errUnbind ends a session normally.
var errUnbind = errors.New("unbind")

func (s *session) run(ctx context.Context) error {
	for {
		if err := s.conn.SetReadDeadline(time.Now().Add(s.srv.opts.IdleTimeout)); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
		p, err := ber.ReadPacket(io.LimitReader(s.br, maxMessageBytes))
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		m, err := parseMessage(p)
		if err != nil {
			// We cannot even tell the message id: RFC 4511 section 4.1.1
			// says to send a Notice of Disconnection and close.
			_ = s.write(envelope(0, extendedResult(resultProtocolError, "malformed message", "1.3.6.1.4.1.1466.20036")))
			return err
		}
		if err := s.handle(ctx, m); err != nil {
			if errors.Is(err, errUnbind) {
				return nil
			}
			return err
		}
	}
}

// handle answers one request. An error closes the connection.
func (s *session) handle(ctx context.Context, m message) error {
	op := m.op
	if m.critical != "" && op.Tag != appUnbindRequest && op.Tag != appAbandonRequest {
		tag := responseTag(op.Tag)
		if tag < 0 {
			return nil
		}
		return s.write(envelope(m.id, resultOp(ber.Tag(tag), resultUnavailableCriticalExt, "", "unsupported critical control "+m.critical)))
	}
	switch op.Tag {
	case appBindRequest:
		return s.bind(ctx, m)
	case appUnbindRequest:
		return errUnbind
	case appSearchRequest:
		return s.search(m)
	case appAbandonRequest:
		return nil // searches finish before the next request is read
	case appExtendedRequest:
		return s.extended(m)
	case appModifyRequest, appAddRequest, appDelRequest, appModifyDNRequest, appCompareRequest:
		s.srv.log.Debug("ldap write refused", zap.String("src", s.src), zap.Int("op", int(op.Tag)))
		return s.write(envelope(m.id, resultOp(ber.Tag(responseTag(op.Tag)), resultUnwillingToPerform, "", "the phone book is read-only")))
	default:
		return fmt.Errorf("unknown operation %d: %w", op.Tag, errMalformed)
	}
}

// responseTag returns the response op for a request op; -1 when the
// request has no response.
func responseTag(req ber.Tag) int {
	switch req {
	case appUnbindRequest, appAbandonRequest:
		return -1
	case appExtendedRequest:
		return int(appExtendedResponse)
	case appSearchRequest:
		return int(appSearchResultDone)
	default:
		return int(req) + 1 // bind 0→1, modify 6→7, add 8→9, del 10→11, modDN 12→13, compare 14→15
	}
}

func (s *session) write(p *ber.Packet) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if _, err := s.conn.Write(p.Bytes()); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// extended answers extended operations: StartTLS when configured, nothing
// else.
func (s *session) extended(m message) error {
	name := extendedName(m.op)
	if name != oidStartTLS {
		return s.write(envelope(m.id, extendedResult(resultProtocolError, "unsupported extended operation", "")))
	}
	if s.srv.opts.TLS == nil || s.tls {
		return s.write(envelope(m.id, extendedResult(resultUnwillingToPerform, "StartTLS is not available", "")))
	}
	if s.br.Buffered() > 0 {
		// The client must wait for our answer before starting TLS.
		return s.write(envelope(m.id, extendedResult(resultProtocolError, "data after StartTLS", "")))
	}
	if err := s.write(envelope(m.id, extendedResult(resultSuccess, "", oidStartTLS))); err != nil {
		return err
	}
	tc := tls.Server(s.conn, s.srv.opts.TLS)
	if err := tc.SetDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("starttls handshake: %w", err)
	}
	s.conn, s.br, s.tls = tc, bufio.NewReader(tc), true
	return nil
}
