package rtp

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/pion/srtp/v3"
	"go.uber.org/zap"
)

// SRTP suite names as SDES writes them (RFC 4568 §6.2), the ones NewSRTP
// takes.
const (
	SuiteAES80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES32 = "AES_CM_128_HMAC_SHA1_32"
)

// srtpReplayWindow is the replay window of our receiving contexts, in
// packets: RFC 3711 §3.3.2's minimum, ample for one phone's audio.
const srtpReplayWindow = 64

// srtpOverhead is what protection adds to an RTP packet at most: the
// 80-bit tag (SRTCP adds a 4-byte index as well).
const srtpOverhead = 16

// ErrSRTP marks a packet that failed SRTP/SRTCP authentication or replay
// checks, or could not be protected.
var ErrSRTP = errors.New("rtp: srtp")

// SRTP protects an endpoint's stream (RFC 3711): what it sends with our
// master key, what it receives with the peer's, RTP and RTCP alike. Each
// direction has its own pion/srtp context, used under its own lock (a
// context is not safe for concurrent use; the RTP and RTCP readers share
// the receiving one). Create it with NewSRTP and give it to an endpoint
// in Config.SRTP or with SetSRTP.
type SRTP struct {
	tx, rx *srtpHalf
}

// srtpHalf is one direction's context and the keying that made it.
type srtpHalf struct {
	suite string
	key   []byte // master key || salt
	mu    sync.Mutex
	ctx   *srtp.Context
}

// SRTPProfile returns pion's protection profile for an SDES suite name.
func SRTPProfile(suite string) (srtp.ProtectionProfile, bool) {
	switch suite {
	case SuiteAES80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, true
	case SuiteAES32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, true
	}
	return 0, false
}

// NewSRTP builds the contexts for a stream of suite: sendKey is ours and
// recvKey the peer's, each the master key followed by the master salt
// (30 bytes for both AES-CM suites).
func NewSRTP(suite string, sendKey, recvKey []byte) (*SRTP, error) {
	return (*SRTP)(nil).Rekey(suite, sendKey, recvKey)
}

// Rekey returns protection for a new keying of the same stream (a
// re-INVITE's answer): a direction whose suite and key are unchanged keeps
// its context, and with it the rollover counter and replay state that a
// fresh context would lose; the others get new contexts. s may be nil.
func (s *SRTP) Rekey(suite string, sendKey, recvKey []byte) (*SRTP, error) {
	var oldTx, oldRx *srtpHalf
	if s != nil {
		oldTx, oldRx = s.tx, s.rx
	}
	tx, err := half(oldTx, suite, sendKey, false)
	if err != nil {
		return nil, fmt.Errorf("srtp send context: %w", err)
	}
	rx, err := half(oldRx, suite, recvKey, true)
	if err != nil {
		return nil, fmt.Errorf("srtp receive context: %w", err)
	}
	return &SRTP{tx: tx, rx: rx}, nil
}

func half(old *srtpHalf, suite string, key []byte, receive bool) (*srtpHalf, error) {
	if old != nil && old.suite == suite && bytes.Equal(old.key, key) {
		return old, nil
	}
	profile, ok := SRTPProfile(suite)
	if !ok {
		return nil, fmt.Errorf("suite %q not supported", suite)
	}
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	if len(key) != keyLen+saltLen {
		return nil, fmt.Errorf("%s key of %d bytes, want %d", suite, len(key), keyLen+saltLen)
	}
	var opts []srtp.ContextOption
	if receive {
		opts = append(opts, srtp.SRTPReplayProtection(srtpReplayWindow), srtp.SRTCPReplayProtection(srtpReplayWindow))
	}
	k := bytes.Clone(key)
	ctx, err := srtp.CreateContext(k[:keyLen], k[keyLen:], profile, opts...)
	if err != nil {
		return nil, err
	}
	return &srtpHalf{suite: suite, key: k, ctx: ctx}, nil
}

// Suite returns the suite of the stream we send.
func (s *SRTP) Suite() string { return s.tx.suite }

// protectRTP encrypts and authenticates one marshalled RTP packet into
// dst's storage.
func (s *SRTP) protectRTP(dst, pkt []byte) ([]byte, error) {
	s.tx.mu.Lock()
	defer s.tx.mu.Unlock()
	out, err := s.tx.ctx.EncryptRTP(dst, pkt, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: protect rtp: %v", ErrSRTP, err)
	}
	return out, nil
}

// unprotectRTP authenticates and decrypts one received SRTP packet into a
// new buffer, which the returned packet may keep.
func (s *SRTP) unprotectRTP(pkt []byte) ([]byte, error) {
	s.rx.mu.Lock()
	defer s.rx.mu.Unlock()
	out, err := s.rx.ctx.DecryptRTP(make([]byte, 0, len(pkt)), pkt, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: unprotect rtp: %v", ErrSRTP, err)
	}
	return out, nil
}

// protectRTCP turns a compound RTCP packet into SRTCP (always encrypted:
// the E flag set, RFC 3711 §3.4).
func (s *SRTP) protectRTCP(pkt []byte) ([]byte, error) {
	s.tx.mu.Lock()
	defer s.tx.mu.Unlock()
	out, err := s.tx.ctx.EncryptRTCP(make([]byte, 0, len(pkt)+srtpOverhead), pkt, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: protect rtcp: %v", ErrSRTP, err)
	}
	return out, nil
}

// unprotectRTCP authenticates and decrypts one received SRTCP packet.
func (s *SRTP) unprotectRTCP(pkt []byte) ([]byte, error) {
	s.rx.mu.Lock()
	defer s.rx.mu.Unlock()
	out, err := s.rx.ctx.DecryptRTCP(make([]byte, 0, len(pkt)), pkt, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: unprotect rtcp: %v", ErrSRTP, err)
	}
	return out, nil
}

// SetSRTP changes the stream's protection: nil sends and takes plain RTP
// from the next packet on. Give a changed keying as s.Rekey of the
// current one so that an unchanged direction keeps its context.
func (e *Endpoint) SetSRTP(s *SRTP) {
	if old := e.srtp.Swap(s); (old == nil) != (s == nil) {
		suite := ""
		if s != nil {
			suite = s.Suite()
		}
		e.log.Info("srtp changed", zap.String("srtp", suite))
	}
}

// SRTP returns the stream's protection, nil for plain RTP.
func (e *Endpoint) SRTP() *SRTP { return e.srtp.Load() }

// countSRTPReject counts a received packet that failed SRTP and logs the
// first such failure (a peer with the wrong key would fill the log).
func (e *Endpoint) countSRTPReject(err error, from netip.AddrPort) {
	e.mu.Lock()
	e.rejected++
	e.srtpRejected++
	first := !e.srtpLogged
	e.srtpLogged = true
	e.mu.Unlock()
	if first {
		e.log.Info("srtp packet dropped", zap.Stringer("src", from), zap.Error(err))
	}
}
