package main

import (
	"context"
	"github.com/sentralpbx/sentral/directory"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/routing"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// planCatalog shows the catalog to routing as its number plan
// (proxy.PlanCatalog): routing declares small interfaces in its own terms,
// the catalog keeps its own; this is where they meet.
type planCatalog struct {
	*catalog.Catalog
	hosts *trunkHosts
	// media is the media server's SIP address ("" without one).
	media string
	// names is the phone book that names callers (nil: none).
	names *directory.Directory
}

// CallerName names a calling number by the phone book (routing.NameFinder).
func (p planCatalog) CallerName(tenantID int64, number string) (string, bool) {
	if p.names == nil {
		return "", false
	}
	return p.names.NameFor(tenantID, number)
}

var _ routing.NameFinder = planCatalog{}

// MediaServer names the media server for voicemail (routing.MediaFinder).
func (p planCatalog) MediaServer() string { return p.media }

var _ routing.MediaFinder = planCatalog{}
var _ routing.GroupFinder = planCatalog{}

var _ routing.PlanState = planCatalog{}
var _ routing.TrunkFinder = planCatalog{}

func (p planCatalog) Group(tenantID int64, number string) (store.Group, []string, bool) {
	g, ok := p.Catalog.Group(tenantID, number)
	if !ok {
		return store.Group{}, nil, false
	}
	return g.Group, g.MemberNumbers, true
}

func (p planCatalog) DID(e164 string) (routing.DIDTarget, bool) {
	t, ok := p.Catalog.DID(e164)
	if !ok {
		return routing.DIDTarget{}, false
	}
	return routing.DIDTarget{TenantID: t.TenantID, Kind: string(t.Kind), Number: t.Number}, true
}

func (p planCatalog) Trunks(tenantID int64) []store.Trunk { return p.Catalog.TenantTrunks(tenantID) }

func (p planCatalog) StaticDECT(tenantID int64, number string) (string, bool) {
	ext, ok := p.Catalog.Extension(tenantID, number)
	if !ok {
		return "", false
	}
	for _, h := range p.Catalog.DECTHandsets(ext.ID) {
		if h.GatewayMode == store.DECTStatic && h.GatewayAddress != "" {
			addr := h.GatewayAddress
			if _, _, err := net.SplitHostPort(addr); err != nil {
				addr = net.JoinHostPort(addr, "5060")
			}
			return addr, true
		}
	}
	return "", false
}

// TrunkFrom finds the enabled trunk an address belongs to: by its peer
// addresses, or for a register-mode trunk by the addresses its host name
// resolved to (the operator's registrar usually sends the inbound calls).
func (p planCatalog) TrunkFrom(addr netip.Addr) (store.Trunk, bool) {
	for _, t := range p.Catalog.TrunksFrom(addr) {
		if t.Enabled {
			return t, true
		}
	}
	if id, ok := p.hosts.lookup(addr.Unmap()); ok {
		if t, ok := p.Catalog.Trunk(id); ok && t.Enabled {
			return t, true
		}
	}
	return store.Trunk{}, false
}

// trunkHosts keeps the addresses of register-mode trunks known by host
// name without a peer list, resolved in the background (routing must not
// wait for DNS).
type trunkHosts struct {
	mu    sync.RWMutex
	addrs map[netip.Addr]int64 // -> trunk id
}

func (h *trunkHosts) lookup(a netip.Addr) (int64, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	id, ok := h.addrs[a]
	return id, ok
}

// trunkResolveEvery is how often trunk host names are looked up again.
const trunkResolveEvery = 5 * time.Minute

// run resolves the trunks' host names now, whenever changed says the
// trunks changed, and every trunkResolveEvery, until ctx ends.
func (h *trunkHosts) run(ctx context.Context, cat *catalog.Catalog, changed <-chan struct{}, log *zap.Logger) error {
	t := time.NewTicker(trunkResolveEvery)
	defer t.Stop()
	for {
		h.resolve(ctx, cat.Trunks(), log)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-changed:
		}
	}
}

func (h *trunkHosts) resolve(ctx context.Context, trunks []store.Trunk, log *zap.Logger) {
	next := map[netip.Addr]int64{}
	for _, t := range trunks {
		if !t.Enabled || t.Mode != store.TrunkRegister || len(t.PeerAddresses) > 0 || t.Host == "" {
			continue
		}
		if a, err := netip.ParseAddr(t.Host); err == nil {
			next[a.Unmap()] = t.ID // the catalog's own index covers literal hosts too
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", t.Host)
		cancel()
		if err != nil {
			log.Warn("trunk host not resolved: inbound calls from it are refused until it is",
				zap.String("trunk", t.Name), zap.String("host", t.Host), zap.Error(err))
			continue
		}
		for _, a := range ips {
			next[a.Unmap()] = t.ID
		}
	}
	h.mu.Lock()
	h.addrs = next
	h.mu.Unlock()
}

// DeviceCredentials lets a desk phone authenticate the extensions on its
// line keys with its own AuthUser and Secret (registrar.DeviceAuth,
// proxy.DeviceAuth). The HA1s are computed per request: the secret is
// stored in clear for the provisioning file, and hashing costs a
// microsecond.
func (p planCatalog) DeviceCredentials(tenantID int64, authUser, number, realm string) (auth.Credentials, bool) {
	d, ok := p.Catalog.DeviceByAuthUser(authUser)
	if !ok || d.TenantID != tenantID || d.Secret == "" {
		return auth.Credentials{}, false
	}
	for _, l := range d.LineNumbers {
		if l.Number != number {
			continue
		}
		md5, err1 := auth.HA1(auth.MD5, authUser, realm, d.Secret)
		sha, err2 := auth.HA1(auth.SHA256, authUser, realm, d.Secret)
		if err1 != nil || err2 != nil {
			return auth.Credentials{}, false
		}
		return auth.Credentials{HA1MD5: md5, HA1SHA256: sha}, true
	}
	return auth.Credentials{}, false
}
