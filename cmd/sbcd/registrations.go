package main

import (
	"net/http"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/sbc"
)

// addRegistrationRoutes adds the outbound-registration endpoint to the admin API.
func addRegistrationRoutes(api *admin.Server, b *sbc.B2BUA) {
	api.Handle("GET /api/v1/registrations/outbound", admin.ReadOnly, false, func(*http.Request) (any, error) {
		return b.OutboundRegistrations(), nil
	})
}
