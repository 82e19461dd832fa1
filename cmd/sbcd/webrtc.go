package main

import (
	"github.com/openborder/openborder/firmware/webphone"
	"github.com/openborder/openborder/policy"
)

// phoneConfig tells the web phone where to connect: the first WebSocket
// listener of a registrar realm (else of any realm), in that realm's domain.
func phoneConfig(pol *policy.Set) webphone.Config {
	var cfg webphone.Config
	for _, wantRegistrar := range []bool{true, false} {
		for _, r := range pol.Realms() {
			if r.Registrar != wantRegistrar {
				continue
			}
			for _, l := range r.Listeners {
				if l.Transport == "ws" || l.Transport == "wss" {
					cfg.WebSocketURL = l.Transport + "://" + l.Address
					cfg.Domain = r.Advertised
					if pol.Config().TURN.Enabled() && pol.Config().TURN.Secret != "" {
						cfg.TURNCredentials = "/api/v1/turn/credentials"
					}
					return cfg
				}
			}
		}
	}
	return cfg
}
