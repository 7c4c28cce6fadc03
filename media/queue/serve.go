package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/prompts"
)

// Serve is the switchboard's media application for a call to the
// tenant's switchboard number dialled: night service when closed or
// nobody is available, otherwise the queue (greeting, music, position
// every AnnounceEvery) until an operator takes the call and it ends. It
// returns when the switchboard is done with the call, having hung it up.
func (s *Switchboard) Serve(ctx context.Context, tenantID int64, dialled string, caller Leg) {
	id := caller.CallID()
	number, _ := caller.Caller()
	log := s.log.With(zap.String("call_id", id), zap.Int64("tenant", tenantID), zap.String("src", number))
	defer caller.Hangup()

	// The call's context ends with the caller's leg too, so a dial or a
	// voicemail for a caller who has gone stops.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-caller.Done():
			cancel()
		case <-ctx.Done():
		}
	}()

	cfg, ok := s.settings.Switchboard(tenantID)
	if !ok {
		log.Warn("switchboard: the tenant has no switchboard")
		_ = s.say(ctx, caller, "", "queue-closed")
		return
	}
	name := s.name(tenantID, number)
	if n := s.night(tenantID, cfg); n.Active {
		s.checkNight(tenantID)
		s.overflow(ctx, tenantID, cfg, n, caller, dialled, name, log)
		return
	}

	c := s.newCall(tenantID, id, number, name, dialled, cfg)
	c.state, c.since = stQueued, s.Now().UTC()
	s.mu.Lock()
	t := s.tenantLocked(tenantID)
	if _, dup := t.calls[id]; dup {
		s.mu.Unlock()
		log.Warn("switchboard: call already at the switchboard")
		return
	}
	t.calls[id] = c
	t.queue = append(t.queue, c)
	pos := len(t.queue)
	s.mu.Unlock()
	s.publish(tenantID, KindQueue)
	log.Info("switchboard: queued", zap.Int("position", pos), zap.String("dialled", dialled))

	o := &owner{c: c, ctx: ctx, leg: caller, events: make(chan event)}
	o.music(true, "queue-welcome")
	o.run()
}

// overflow is the night service for a new call.
func (s *Switchboard) overflow(ctx context.Context, tenantID int64, cfg Config, n Night, caller Leg, dialled, name string, log *zap.Logger) {
	number, _ := caller.Caller()
	target := cfg.NightTarget
	s.record(tenantID, RecentCall{
		ID: caller.CallID(), At: s.Now().UTC(), Caller: number, CallerName: name,
		Dialled: dialled, Outcome: OutcomeOverflow, To: target,
	})
	log.Info("switchboard: night service", zap.String("reason", n.Reason), zap.String("to", target))
	switch {
	case strings.HasPrefix(target, voicemailPrefix):
		if err := s.media.Voicemail(ctx, caller, tenantID, strings.TrimPrefix(target, voicemailPrefix)); err != nil && ctx.Err() == nil {
			log.Warn("switchboard: night voicemail", zap.Error(err))
		}
		return
	case target != "":
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.playMusic(mctx, caller, nil, false, "")
		}()
		leg, err := s.media.Dial(ctx, tenantID, target, number, name, s.RingTime, nil)
		stop()
		<-done
		if err == nil {
			defer leg.Hangup()
			if _, err := s.media.Bridge(ctx, caller, leg); err != nil && ctx.Err() == nil {
				log.Warn("switchboard: night bridge", zap.Error(err))
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Info("switchboard: night target did not answer", zap.Error(err))
	}
	_ = s.say(ctx, caller, cfg.Lang, "queue-closed")
}

// DialOut is a call-back: the operator's extension rings (RingTime), then,
// while the operator hears ring-back, the target; when it answers the
// two are bridged and the call is the operator's like any other (hold,
// transfer, park). It returns the call's id at once; the call shows as
// ringing at the operator until the target answers, and disappears if
// either does not answer. Call-backs are not listed in Recent.
func (s *Switchboard) DialOut(ctx context.Context, tenantID int64, op Operator, target string) (string, error) {
	if err := checkTarget(target); err != nil {
		return "", err
	}
	if op.Username == "" || op.Extension == "" {
		return "", fmt.Errorf("%w: operator %q has no extension to ring", ErrInvalid, op.Username)
	}
	cfg, ok := s.settings.Switchboard(tenantID)
	if !ok {
		return "", fmt.Errorf("%w: the tenant has no switchboard", ErrInvalid)
	}
	name := s.name(tenantID, target)
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: the switchboard is closed", ErrConflict)
	}
	s.seq++
	id := fmt.Sprintf("callback-%d-%d", tenantID, s.seq)
	c := s.newCall(tenantID, id, target, name, "", cfg)
	c.state, c.op, c.opSince = stDialOut, op, s.Now().UTC()
	s.tenantLocked(tenantID).calls[id] = c
	s.wg.Add(1) // under s.mu: Close cancels under it before waiting
	s.mu.Unlock()
	s.publish(tenantID, KindCalls, KindOperators)
	c.log.Info("switchboard: call-back", zap.String("operator", op.Username), zap.String("to", target))

	o := &owner{c: c, ctx: s.ctx, events: make(chan event), noRecord: true, cfgNumber: cfg.Number, opExt: op.Extension}
	go func() {
		defer s.wg.Done()
		o.dialNumber(dialBackOp, op.Extension, target, name)
		o.run()
	}()
	return id, nil
}

// playMusic plays hold music to leg until ctx ends or the leg does: after
// the intro prompt, and in the queue (c not nil) with c's position first
// and then every AnnounceEvery.
func (s *Switchboard) playMusic(ctx context.Context, leg Leg, c *call, queue bool, intro string) {
	lang := ""
	if c != nil {
		lang = c.lang
	}
	if intro != "" && s.say(ctx, leg, lang, intro) != nil {
		return
	}
	every := int(s.AnnounceEvery * sampleRate / time.Second)
	if !queue || c == nil || every <= 0 {
		every = len(s.music)
	}
	off := 0
	for ctx.Err() == nil {
		if queue && c != nil {
			if p := c.position(); p > 0 {
				names := append([]string{"queue-you-are-number"}, prompts.Number(lang, p)...)
				if s.say(ctx, leg, lang, append(names, "queue-in-queue")...) != nil {
					return
				}
			}
		}
		for left := every; left > 0; {
			n := min(left, len(s.music)-off)
			if _, err := leg.Play(ctx, s.music[off:off+n], false); err != nil {
				return
			}
			off = (off + n) % len(s.music)
			left -= n
		}
	}
}

// say plays prompts in order; a missing prompt is skipped.
func (s *Switchboard) say(ctx context.Context, leg Leg, lang string, names ...string) error {
	for _, n := range names {
		pcm, ok := prompts.Samples(lang, n)
		if !ok {
			s.log.Warn("switchboard: missing prompt", zap.String("prompt", n), zap.String("lang", lang))
			continue
		}
		if _, err := leg.Play(ctx, pcm, false); err != nil {
			return err
		}
	}
	return ctx.Err()
}
