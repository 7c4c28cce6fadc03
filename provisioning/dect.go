package provisioning

import (
	"context"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// GatewayInput is what an admin types for a DECT gateway; nil fields are not given.
type GatewayInput struct {
	Model, Address, Site, Mode *string
}

// GatewayView is a DECT gateway with its site by name.
type GatewayView struct {
	store.DECTGateway
	Site string `json:"site,omitempty"`
}

// HandsetInput is what an admin types for a DECT handset; nil fields are not given.
type HandsetInput struct {
	Gateway *string // gateway name
	Ext     *string // extension number
}

// HandsetView is a handset with its gateway and extension by natural key.
type HandsetView struct {
	store.DECTHandset
	Gateway   string `json:"gateway"`
	Extension string `json:"extension"`
}

var gateways = entity[store.DECTGateway, GatewayView]{
	kind:   kindGateway,
	repo:   store.Store.DECTGateways,
	fields: map[string]string{"name": "NAME", "gateway_id": "NAME", "model": "--model", "address": "--address", "site_id": "--site", "mode": "--mode"},
	view: func(n *names, g *store.DECTGateway) GatewayView {
		return GatewayView{DECTGateway: *g, Site: n.site(g.SiteID)}
	},
}

var handsets = entity[store.DECTHandset, HandsetView]{
	kind:   kindHandset,
	repo:   store.Store.DECTHandsets,
	fields: map[string]string{"ipui": "IPUI", "gateway_id": "--gateway", "extension_id": "--ext"},
	view: func(n *names, h *store.DECTHandset) HandsetView {
		return HandsetView{DECTHandset: *h, Gateway: n.gateway(h.GatewayID), Extension: n.ext(h.ExtensionID)}
	},
	key: func(k string) (string, error) { return NormalizeIPUI("IPUI", k) },
}

func (s *Service) applyGateway(ctx context.Context, t store.Tenant, g *store.DECTGateway, in GatewayInput) error {
	str(&g.Model, in.Model)
	str(&g.Address, in.Address)
	if in.Mode != nil {
		switch m := store.DECTMode(strings.ToLower(strings.TrimSpace(*in.Mode))); m {
		case store.DECTRegister, store.DECTStatic:
			g.Mode = m
		default:
			return Invalid("--mode", *in.Mode, "unknown DECT mode", "use register (handsets register through the gateway) or static (a number range is routed to it)")
		}
	}
	if in.Site != nil {
		var err error
		if g.SiteID, err = optRef(ctx, s.st.Sites(), t, kindSite, "--site", *in.Site); err != nil {
			return err
		}
	}
	return nil
}

// AddGateway creates a DECT gateway; handsets register through it unless told otherwise.
func (s *Service) AddGateway(ctx context.Context, tenant, name string, in GatewayInput) (GatewayView, error) {
	return gateways.add(ctx, s, tenant, name, func(t store.Tenant, key string, g *store.DECTGateway) error {
		*g = store.DECTGateway{TenantID: t.ID, Name: key, Mode: store.DECTRegister}
		return s.applyGateway(ctx, t, g, in)
	})
}

// UpdateGateway changes the given fields of a DECT gateway.
func (s *Service) UpdateGateway(ctx context.Context, tenant, name string, in GatewayInput) (GatewayView, error) {
	return gateways.update(ctx, s, tenant, name, func(t store.Tenant, g *store.DECTGateway) error { return s.applyGateway(ctx, t, g, in) })
}

// RemoveGateway deletes a DECT gateway without handsets.
func (s *Service) RemoveGateway(ctx context.Context, tenant, name string) (GatewayView, error) {
	return gateways.remove(ctx, s, tenant, name)
}

// Gateway shows one DECT gateway.
func (s *Service) Gateway(ctx context.Context, tenant, name string) (GatewayView, error) {
	return gateways.get(ctx, s, tenant, name)
}

// Gateways lists a tenant's DECT gateways.
func (s *Service) Gateways(ctx context.Context, tenant string) ([]GatewayView, error) {
	return gateways.list(ctx, s, tenant)
}

func (s *Service) applyHandset(ctx context.Context, t store.Tenant, h *store.DECTHandset, in HandsetInput) error {
	if in.Gateway != nil {
		g, err := find(ctx, s.st.DECTGateways(), t, kindGateway, "--gateway", strings.TrimSpace(*in.Gateway))
		if err != nil {
			return err
		}
		h.GatewayID = g.ID
	}
	if in.Ext != nil {
		e, err := s.findExt(ctx, s.st, t, "--ext", *in.Ext)
		if err != nil {
			return err
		}
		h.ExtensionID = e.ID
	}
	if h.GatewayID == 0 {
		return Invalid("--gateway", "", "is required", "name the DECT gateway the handset is subscribed to, e.g. --gateway sykehjem-dect")
	}
	if h.ExtensionID == 0 {
		return Invalid("--ext", "", "is required", "give the extension number the handset rings for, e.g. --ext 2001")
	}
	return nil
}

// AddHandset maps a DECT handset (by IPUI) to an extension on a gateway.
func (s *Service) AddHandset(ctx context.Context, tenant, ipui string, in HandsetInput) (HandsetView, error) {
	return handsets.add(ctx, s, tenant, ipui, func(t store.Tenant, key string, h *store.DECTHandset) error {
		*h = store.DECTHandset{TenantID: t.ID, IPUI: key}
		return s.applyHandset(ctx, t, h, in)
	})
}

// UpdateHandset moves a handset to another gateway or extension.
func (s *Service) UpdateHandset(ctx context.Context, tenant, ipui string, in HandsetInput) (HandsetView, error) {
	return handsets.update(ctx, s, tenant, ipui, func(t store.Tenant, h *store.DECTHandset) error { return s.applyHandset(ctx, t, h, in) })
}

// RemoveHandset deletes a handset mapping.
func (s *Service) RemoveHandset(ctx context.Context, tenant, ipui string) (HandsetView, error) {
	return handsets.remove(ctx, s, tenant, ipui)
}

// Handset shows one handset.
func (s *Service) Handset(ctx context.Context, tenant, ipui string) (HandsetView, error) {
	return handsets.get(ctx, s, tenant, ipui)
}

// Handsets lists a tenant's handsets.
func (s *Service) Handsets(ctx context.Context, tenant string) ([]HandsetView, error) {
	return handsets.list(ctx, s, tenant)
}
