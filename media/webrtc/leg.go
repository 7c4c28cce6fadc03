package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// stage is where a leg is in offer/answer.
type stage int

const (
	stageUp                stage = iota // no exchange outstanding
	stageWaitPhoneAnswer                // an offer went to the phone
	stageWaitBrowserAnswer              // an offer went to the browser
)

// Leg is one bridged call: a PeerConnection towards the browser, an RTP
// endpoint towards the phone, and the relay between them. Its methods are
// safe for concurrent use; the proxy calls them from the call's dialog.
// One goroutine (run) owns the leg's life: it ends the leg when the
// context given at creation ends, on Close, when the browser fails to
// connect or goes away, or when the phone's media dies.
type Leg struct {
	g      *Gateway
	callID string
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error // why the leg ended; written before done is closed

	answered, connected       chan struct{}
	answeredOnce, connectOnce sync.Once

	ep    *rtp.Endpoint
	pc    *pion.PeerConnection
	tr    *pion.RTPTransceiver
	track *phoneTrack

	route              atomic.Pointer[route]
	toBrowser, toPhone atomic.Uint64
	toBrowserSeq       toBrowserState // owned by the endpoint's reading goroutine
	lifeMu             sync.Mutex     // guards ending against new readers and late state changes
	ending             bool
	wg                 sync.WaitGroup // browser track readers
	connectedAt        atomic.Int64   // unix ns, for the log

	mu         sync.Mutex // the offer/answer state below
	stage      stage
	sess       *sdp.Session // our o= line towards the phone
	local      sdp.Local    // our phone-side address and port
	eventPT    uint8        // telephone-event PT in our offers to the phone
	codec      string       // the G.711 codec in use; "" until the first answer
	offered    []string     // codecs of our outstanding offer to the phone
	browserOff *browserSDP  // the browser's offer the phone is to answer
	phoneOff   *sdp.Offer   // the phone's offer the browser is to answer
	phoneNames []string     // the G.711 codecs of phoneOff
	// Phone-side SDES-SRTP (srtp.go); l.local.SRTPKey is our key.
	srtp        *sdp.SRTP   // the keying in use; nil for plain RTP
	srtpProto   string      // its profile: RTP/SAVP, or RTP/AVP (best effort)
	keyUsed     bool        // l.local.SRTPKey has keyed a send context
	offerCrypto *sdp.Crypto // the a=crypto of our outstanding offer, nil if plain
	offerProto  string      // that offer's profile
}

// newLeg opens the phone-side endpoint and the browser-side
// PeerConnection with its one audio transceiver, and starts the leg's
// owner goroutine. pt is the codec PT the phone most likely uses (for the
// endpoint's jitter figure). The endpoint accepts every payload type:
// the route decides what passes, and a re-offer may renumber
// telephone-event, which a fixed list would then refuse.
func (g *Gateway) newLeg(ctx context.Context, callID string, ports *rtp.Ports, adv netip.Addr, pt uint8) (*Leg, error) {
	log := g.log.With(zap.String("call_id", callID))
	key, err := sdp.NewKey() // ours, if the phone side turns to SRTP
	if err != nil {
		return nil, fmt.Errorf("webrtc leg: %w", err)
	}
	lctx, cancel := context.WithCancelCause(ctx)
	l := &Leg{
		g: g, callID: callID, log: log, ctx: lctx, cancel: cancel,
		done: make(chan struct{}), answered: make(chan struct{}), connected: make(chan struct{}),
		track: &phoneTrack{}, sess: sdp.NewSession(),
	}
	ep, err := rtp.Open(lctx, ports, rtp.Config{
		CallID: callID, Log: g.log, PayloadType: pt, OnPacket: l.fromPhone,
	})
	if err != nil {
		cancel(err)
		return nil, fmt.Errorf("webrtc leg: phone side: %w", err)
	}
	l.ep = ep
	l.local = sdp.Local{Addr: adv, Port: int(ep.LocalAddr().Port()), SRTPKey: key}
	fail := func(err error) (*Leg, error) {
		cancel(err)
		_ = ep.Close()
		if l.pc != nil {
			_ = l.pc.Close()
		}
		return nil, fmt.Errorf("webrtc leg: browser side: %w", err)
	}
	api, err := g.api(log)
	if err != nil {
		return fail(err)
	}
	l.pc, err = api.NewPeerConnection(pion.Configuration{
		ICEServers:    g.cfg.ICEServers,
		BundlePolicy:  pion.BundlePolicyMaxBundle,
		RTCPMuxPolicy: pion.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return fail(err)
	}
	// Added before any description, so that a browser's offer takes it
	// over (pion matches an unassigned transceiver of the same kind) and
	// an offer of ours carries it.
	l.tr, err = l.pc.AddTransceiverFromTrack(l.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv})
	if err != nil {
		return fail(err)
	}
	l.pc.OnConnectionStateChange(l.stateChanged)
	l.pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() != pion.RTPCodecTypeAudio {
			return
		}
		l.lifeMu.Lock()
		if l.ending {
			l.lifeMu.Unlock()
			return
		}
		l.wg.Add(1)
		l.lifeMu.Unlock()
		l.readBrowser(tr) // pion runs each OnTrack on a goroutine of its own
	})
	g.legs.Add(1)
	go l.run()
	return l, nil
}

// stateChanged follows the browser connection. pion calls it on a
// goroutine of its own for each change, which may run late: a change that
// comes after the leg began to end is dropped (under lifeMu, so that no
// line about the leg follows its "leg ended").
func (l *Leg) stateChanged(s pion.PeerConnectionState) {
	l.lifeMu.Lock()
	defer l.lifeMu.Unlock()
	if l.ending {
		return
	}
	switch s {
	case pion.PeerConnectionStateConnected:
		l.connectOnce.Do(func() {
			l.connectedAt.Store(time.Now().UnixNano())
			close(l.connected)
			l.log.Info("webrtc: browser connected", l.candidatePair())
		})
	case pion.PeerConnectionStateDisconnected:
		l.log.Info("webrtc: browser connection interrupted")
	case pion.PeerConnectionStateFailed:
		l.cancel(ErrICEFailed)
	case pion.PeerConnectionStateClosed:
		// After our own Close the cause is already set and this does
		// nothing; otherwise the browser hung up its DTLS session.
		l.cancel(ErrBrowserGone)
	}
}

// candidatePair is the selected ICE pair as a log field.
func (l *Leg) candidatePair() zap.Field {
	sctp := l.pc.SCTP()
	if sctp == nil {
		return zap.Skip()
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return zap.Skip()
	}
	return zap.String("src", fmt.Sprintf("%s:%d", pair.Remote.Address, pair.Remote.Port))
}

// run is the leg's owner: it waits for a reason to end and then ends the
// leg. The connect timer runs from the first answer until the browser
// connects.
func (l *Leg) run() {
	defer l.shutdown()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var timeout <-chan time.Time
	answered, connected, dead := l.answered, l.connected, l.ep.Dead()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-dead:
			dead = nil
			l.cancel(ErrDeadMedia)
		case <-answered:
			answered = nil
			if connected != nil {
				timer = time.NewTimer(l.g.cfg.ConnectTimeout)
				timeout = timer.C
			}
		case <-connected:
			connected, timeout = nil, nil
		case <-timeout:
			timeout = nil
			l.cancel(ErrConnectTimeout)
		}
	}
}

// shutdown releases everything: the endpoint first, so that nothing more
// is written to the browser, then the PeerConnection, whose closing ends
// the browser track readers.
func (l *Leg) shutdown() {
	l.lifeMu.Lock()
	l.ending = true
	l.lifeMu.Unlock()
	err := errors.Join(l.ep.Close(), l.pc.Close())
	l.wg.Wait()
	l.err = context.Cause(l.ctx)
	toBrowser, toPhone := l.Stats()
	fields := []zap.Field{zap.NamedError("reason", l.err),
		zap.Uint64("to_browser", toBrowser), zap.Uint64("to_phone", toPhone)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	if t := l.connectedAt.Load(); t != 0 {
		fields = append(fields, zap.Duration("connected", time.Since(time.Unix(0, t))))
	}
	l.log.Info("webrtc: leg ended", fields...)
	l.g.legs.Add(-1)
	close(l.done)
}

// Done is closed when the leg has ended and released its sockets.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Err returns why the leg ended (ErrClosed, ErrConnectTimeout,
// ErrICEFailed, ErrBrowserGone, ErrDeadMedia or the creation context's
// cause), or nil while it runs.
func (l *Leg) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// CallID returns the Call-ID the leg was created for.
func (l *Leg) CallID() string { return l.callID }

// Stats returns the packets relayed to the browser and to the phone.
func (l *Leg) Stats() (toBrowser, toPhone uint64) {
	return l.toBrowser.Load(), l.toPhone.Load()
}

// Close ends the leg and waits until its sockets are released. It is safe
// to call more than once and after the leg ended by itself.
func (l *Leg) Close() error {
	l.cancel(ErrClosed)
	<-l.done
	return nil
}

// PhoneAnswer takes the phone's answer to the offer FromBrowser (or a
// re-offer from the browser) produced and returns the answer for the
// browser. On error the caller closes the leg (initial exchange) or
// withdraws the re-offer with Reanswer(nil).
func (l *Leg) PhoneAnswer(phoneAnswer []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(stageWaitPhoneAnswer); err != nil {
		return nil, err
	}
	return l.phoneAnswered(phoneAnswer)
}

// BrowserAnswer takes the browser's answer to the offer ToBrowser (or a
// re-offer from the phone) produced and returns the answer for the phone.
// On error, as PhoneAnswer.
func (l *Leg) BrowserAnswer(browserAnswer []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(stageWaitBrowserAnswer); err != nil {
		return nil, err
	}
	return l.browserAnswered(browserAnswer)
}

// Reoffer takes a re-offer in the established call (hold, resume) from
// the browser (fromBrowser) or the phone and returns the offer for the
// other side; its answer goes to Reanswer. The codec stays the one in
// use, and so does the browser-side transport: a re-offer changes the
// direction and, on the phone side, the address. A re-offer without the
// codec in use fails with ErrNoCommonCodec.
func (l *Leg) Reoffer(fromBrowser bool, offer []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(stageUp); err != nil {
		return nil, err
	}
	if fromBrowser {
		bo, err := parseBrowser(offer)
		if err != nil {
			return nil, fmt.Errorf("browser re-offer: %w", err)
		}
		names := bo.g711([]string{l.codec})
		if len(names) == 0 {
			return nil, fmt.Errorf("browser re-offer without %s (%s): %w", l.codec, bo.names(), ErrNoCommonCodec)
		}
		return l.browserOffered(bo, offer, names)
	}
	po, err := sdp.Parse(offer)
	if err != nil {
		return nil, fmt.Errorf("phone re-offer: %w", err)
	}
	m, err := phoneAudio(po)
	if err != nil {
		return nil, fmt.Errorf("phone re-offer: %w", err)
	}
	names := phoneG711(m, []string{l.codec})
	if len(names) == 0 {
		return nil, fmt.Errorf("phone re-offer without %s (%s): %w", l.codec, codecList(m), ErrNoCommonCodec)
	}
	return l.phoneOffered(po, m, names)
}

// Reanswer takes the answer to the offer Reoffer returned and returns the
// answer for the side that re-offered. A nil answer withdraws the
// re-offer (the other side refused it): the call stays as it was.
func (l *Leg) Reanswer(answer []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(-1); err != nil {
		return nil, err
	}
	if answer == nil {
		return nil, l.withdraw()
	}
	switch l.stage {
	case stageWaitPhoneAnswer:
		return l.phoneAnswered(answer)
	case stageWaitBrowserAnswer:
		return l.browserAnswered(answer)
	}
	return nil, fmt.Errorf("%w: no re-offer outstanding", ErrState)
}

// check returns ErrClosed when the leg has ended and ErrState when it is
// not at stage want (any stage when want < 0).
func (l *Leg) check(want stage) error {
	if l.ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ErrClosed, context.Cause(l.ctx))
	}
	if want >= 0 && l.stage != want {
		return fmt.Errorf("%w: at stage %d, not %d", ErrState, l.stage, want)
	}
	return nil
}

// withdraw rolls an outstanding re-offer back. pion has no rollback
// (it refuses SDP type rollback in every state but stable), so the
// exchange is completed inside pion with what it already has: our answer
// to the browser's re-offer, which is never sent, or the browser's last
// answer to ours. What pion sees is always sendrecv with the codec in
// use, so either leaves it as it was.
func (l *Leg) withdraw() error {
	if l.codec == "" {
		return fmt.Errorf("%w: the initial offer cannot be withdrawn; close the leg", ErrState)
	}
	var err error
	switch l.stage {
	case stageWaitPhoneAnswer:
		err = l.settle()
	case stageWaitBrowserAnswer:
		prev := l.pc.CurrentRemoteDescription()
		if prev == nil {
			err = errors.New("no previous browser answer")
			break
		}
		err = l.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: prev.SDP})
	default:
		return fmt.Errorf("%w: no re-offer outstanding", ErrState)
	}
	l.stage, l.offered, l.browserOff, l.phoneOff, l.phoneNames = stageUp, nil, nil, nil, nil
	l.offerCrypto, l.offerProto = nil, ""
	if err != nil {
		return fmt.Errorf("withdraw re-offer: %w", err)
	}
	return nil
}

// settle answers a browser offer pion holds without sending the answer
// anywhere, to bring pion back to stable.
func (l *Leg) settle() error {
	a, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	return l.pc.SetLocalDescription(a)
}

// browserOffered hands a browser's offer to pion and writes the offer for
// the phone with codecs names. The browser's direction goes to the phone
// as it is; pion sees sendrecv (see setDirection).
func (l *Leg) browserOffered(bo *browserSDP, body []byte, names []string) ([]byte, error) {
	err := l.pc.SetRemoteDescription(pion.SessionDescription{
		Type: pion.SDPTypeOffer, SDP: string(setDirection(body, sdp.SendRecv)),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: browser offer refused by pion: %w", sdp.ErrNotAcceptable, err)
	}
	local := l.local
	local.Direction, local.EventPT = bo.dir, l.eventPT
	proto, err := l.offerKey(&local)
	if err != nil {
		_ = l.settle()
		return nil, fmt.Errorf("phone offer: %w", err)
	}
	offer, err := phoneOfferFor(l.sess, local, bo, names)
	if err != nil {
		_ = l.settle()
		return nil, err
	}
	crypto := local.OfferCrypto()
	if crypto != nil && proto == protoAVP {
		offer = withProto(offer, protoAVP)
	}
	l.stage, l.offered, l.browserOff = stageWaitPhoneAnswer, names, bo
	l.offerCrypto, l.offerProto = crypto, proto
	return offer, nil
}

// phoneAnswered reads the phone's answer, has pion answer the browser's
// offer with the codec the phone chose, and points the relay at the
// phone.
func (l *Leg) phoneAnswered(body []byte) ([]byte, error) {
	pa, err := sdp.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("phone answer: %w", err)
	}
	ch, err := l.acceptPhone(pa, l.offered)
	if err != nil {
		return nil, fmt.Errorf("phone answer: %w", err)
	}
	prot, err := l.protection(ch.SRTP)
	if err != nil {
		return nil, fmt.Errorf("phone answer: %w", err)
	}
	bo := l.browserOff
	bc, ok := bo.find(ch.Codec.Name)
	if !ok {
		return nil, fmt.Errorf("phone answer chose %s, which the browser did not offer: %w", ch.Codec.Name, ErrNoCommonCodec)
	}
	prefs := []pion.RTPCodecParameters{withPT(pionCodec(ch.Codec.Name), bc.PT, "")}
	var bte, pte *sdp.Codec
	if te, ok := bo.event(); ok && ch.Event != nil {
		bte, pte = &te, ch.Event
		// Our answer lists the events the phone takes: the browser's to send.
		prefs = append(prefs, withPT(event, te.PT, eventsOf(ch.Event)))
	}
	if err := l.tr.SetCodecPreferences(prefs); err != nil {
		return nil, fmt.Errorf("browser answer: %w", err)
	}
	l.track.setCodec(ch.Codec.Name)
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("browser answer: %w", err)
	}
	out, err := l.setLocal(answer)
	if err != nil {
		return nil, fmt.Errorf("browser answer: %w", err)
	}
	pdir := pa.Media[ch.Index].Effective()
	l.keyPhone(ch.SRTP, prot, pa.Media[ch.Index].Proto)
	l.commit(ch, bc.PT, bte, pte, bo.dir, pdir)
	return setDirection(out, pdir), nil
}

// phoneOffered has pion offer the browser the phone's G.711 codecs names
// (in the phone's order) and telephone-event if the phone has it.
func (l *Leg) phoneOffered(po *sdp.Offer, m *sdp.Media, names []string) ([]byte, error) {
	prefs := make([]pion.RTPCodecParameters, 0, len(names)+1)
	for _, n := range names {
		prefs = append(prefs, pionCodec(n))
	}
	if te, ok := m.TelephoneEvent(); ok {
		// The phone's number when it is dynamic, so DTMF keeps its PT.
		pt := uint8(sdp.DefaultEventPT)
		if te.PT >= 96 && te.PT <= 127 {
			pt = te.PT
		}
		prefs = append(prefs, withPT(event, pt, eventsOf(&te)))
	}
	if err := l.tr.SetCodecPreferences(prefs); err != nil {
		return nil, fmt.Errorf("browser offer: %w", err)
	}
	offer, err := l.pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("browser offer: %w", err)
	}
	out, err := l.setLocal(offer)
	if err != nil {
		return nil, fmt.Errorf("browser offer: %w", err)
	}
	l.stage, l.phoneOff, l.phoneNames = stageWaitBrowserAnswer, po, names
	return setDirection(out, m.Effective()), nil
}

// browserAnswered reads the browser's answer, hands it to pion and writes
// the phone's answer with the codec the browser chose.
func (l *Leg) browserAnswered(body []byte) ([]byte, error) {
	ba, err := parseBrowser(body)
	if err != nil {
		return nil, fmt.Errorf("browser answer: %w", err)
	}
	names := ba.g711(l.phoneNames)
	if len(names) == 0 {
		return nil, fmt.Errorf("browser answer (%s): %w", ba.names(), ErrNoCommonCodec)
	}
	bc, _ := ba.find(names[0]) // the codec the browser sends: its answer's first
	bte, hasTE := ba.event()
	po, m := withoutEvents(l.phoneOff, !hasTE)
	local := l.local
	local.Direction = ba.dir
	if err := l.answerKey(&local, po, names[:1]); err != nil {
		return nil, fmt.Errorf("phone answer: %w", err)
	}
	answer, ch, err := l.sess.Answer(po, local, names[:1])
	if err != nil {
		return nil, fmt.Errorf("phone answer: %w", err)
	}
	prot, err := l.protection(ch.SRTP)
	if err != nil {
		return nil, fmt.Errorf("phone answer: %w", err)
	}
	l.track.setCodec(names[0])
	err = l.pc.SetRemoteDescription(pion.SessionDescription{
		Type: pion.SDPTypeAnswer, SDP: string(setDirection(body, sdp.SendRecv)),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: browser answer refused by pion: %w", sdp.ErrNotAcceptable, err)
	}
	var bp *sdp.Codec
	if hasTE {
		bp = &bte
	}
	l.keyPhone(ch.SRTP, prot, po.Media[ch.Index].Proto)
	l.commit(ch, bc.PT, bp, ch.Event, ba.dir, m.Effective())
	return answer, nil
}

// commit applies a completed exchange: the phone's address and hold
// state to the endpoint, payload types and directions to the relay.
func (l *Leg) commit(ch sdp.Choice, browserPT uint8, bte, pte *sdp.Codec, bdir, pdir sdp.Direction) {
	if bte == nil || pte == nil {
		bte, pte = nil, nil
	}
	l.ep.SetRemote(ch.Remote, ch.RemoteRTCP)
	l.ep.SetHold(ch.Hold)
	r := newRoute(browserPT, ch.Codec.PT, bte, pte, bdir, pdir, ch.Ptime)
	l.route.Store(r)
	if pte != nil {
		l.eventPT = pte.PT
	}
	first := l.codec == ""
	l.codec = ch.Codec.Name
	l.stage, l.offered, l.browserOff, l.phoneOff, l.phoneNames = stageUp, nil, nil, nil, nil
	l.offerCrypto, l.offerProto = nil, ""
	l.answeredOnce.Do(func() { close(l.answered) })
	fields := []zap.Field{zap.String("codec", ch.Codec.Name), zap.Stringer("browser_dir", bdir),
		zap.Stringer("phone_dir", pdir), zap.Stringer("phone", ch.Remote), zap.Bool("dtmf", pte != nil)}
	if ch.SRTP != nil {
		fields = append(fields, zap.String("srtp", ch.SRTP.Suite()))
	}
	if first {
		l.log.Info("webrtc: call bridged", fields...)
	} else {
		l.log.Info("webrtc: call renegotiated", fields...)
	}
}

// setLocal applies one of pion's descriptions and returns it once ICE
// gathering is complete, with every candidate (non-trickle, for SIP).
func (l *Leg) setLocal(d pion.SessionDescription) ([]byte, error) {
	gathered := pion.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(d); err != nil {
		return nil, err
	}
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-l.ctx.Done():
		return nil, fmt.Errorf("ICE gathering: %w", context.Cause(l.ctx))
	case <-t.C:
		return nil, fmt.Errorf("ICE gathering not complete after %v", gatherTimeout)
	}
	return []byte(l.pc.LocalDescription().SDP), nil
}

// withPT returns codec c with payload type pt and, when fmtp is not
// empty, that fmtp line.
func withPT(c pion.RTPCodecParameters, pt uint8, fmtp string) pion.RTPCodecParameters {
	c.PayloadType = pion.PayloadType(pt)
	if fmtp != "" {
		c.SDPFmtpLine = fmtp
	}
	return c
}

// eventsOf is a telephone-event format's event list; none written means
// the DTMF keys 0-15 (RFC 4733 §2.4.1).
func eventsOf(c *sdp.Codec) string {
	if c == nil || c.Fmtp == "" {
		return "0-15"
	}
	return c.Fmtp
}

// withoutEvents returns o's audio stream, and o itself, or when drop is
// set a copy of o whose audio stream has no telephone-event: the phone's
// answer then leaves DTMF events out when the browser cannot carry them.
func withoutEvents(o *sdp.Offer, drop bool) (*sdp.Offer, *sdp.Media) {
	m, i := o.Audio()
	if !drop {
		return o, m
	}
	c := *o
	c.Media = slices.Clone(o.Media)
	c.Media[i].Codecs = slices.DeleteFunc(slices.Clone(m.Codecs), func(x sdp.Codec) bool { return x.Is("telephone-event") })
	return &c, &c.Media[i]
}

// phoneOfferFor writes the offer for the phone that stands for the
// browser's offer bo: codecs names, the browser's direction (in local),
// and telephone-event with local.EventPT only if the browser has it.
func phoneOfferFor(sess *sdp.Session, local sdp.Local, bo *browserSDP, names []string) ([]byte, error) {
	local.Direction = bo.dir
	offer, err := sess.Offer(local, names)
	if err != nil {
		return nil, fmt.Errorf("phone offer: %w", err)
	}
	if _, ok := bo.event(); !ok {
		offer = stripFormat(offer, local.EventPT)
	}
	return offer, nil
}

// eventPTFor is the telephone-event PT to offer the phone for browser
// offer bo: the browser's own when it is dynamic, so that DTMF packets
// keep their PT both ways, else the usual one.
func eventPTFor(bo *browserSDP) uint8 {
	if te, ok := bo.event(); ok && te.PT >= 96 && te.PT <= 127 {
		return te.PT
	}
	return sdp.DefaultEventPT
}
