package snmp

import "fmt"

// Trap is one of the OPENBORDER-MIB notifications: TrunkDown, TrunkUp,
// SourceBlacklisted, Overload, OverloadCleared, ConfigReloadFailed or
// AccountBlocked. Whether snmpd sends it on as a trap or an inform, and
// to whom, is snmpd's configuration (trap2sink, informsink, trapsess).
type Trap interface {
	// notification returns the notification OID and the bindings that
	// follow snmpTrapOID.0.
	notification(s *Snapshot) (OID, []VarBind, error)
}

// TrunkDown is obTrunkDown: no gateway of the trunk passes its health
// checks any more. Trunk must name a trunk of the current snapshot.
type TrunkDown struct {
	Trunk      string
	Gateways   uint32
	GatewaysUp uint32
	Reason     string
}

// TrunkUp is obTrunkUp: a gateway of the trunk passes its health checks
// again. Trunk must name a trunk of the current snapshot.
type TrunkUp struct {
	Trunk      string
	Gateways   uint32
	GatewaysUp uint32
	Reason     string
}

// SourceBlacklisted is obSourceBlacklisted: a source address was put on
// the blacklist.
type SourceBlacklisted struct {
	Address string // IP address, optionally with :port
	Realm   string
	Reason  string
}

// Overload is obOverload: sbcd sheds load (admission control refuses
// calls, or rate limits drop a flood) at or above the raise threshold.
type Overload struct {
	ActiveCalls uint32
	MaxCalls    uint32
	Reason      string
}

// OverloadCleared is obOverloadCleared: the refusals of an overload
// episode stayed below the clear threshold long enough; it ends the
// episode an Overload started.
type OverloadCleared struct {
	ActiveCalls uint32
	MaxCalls    uint32
	Reason      string
}

// ConfigReloadFailed is obConfigReloadFailed: a reload was refused and
// the configuration with hash ConfigHash stays in force (empty: the hash
// of the current snapshot).
type ConfigReloadFailed struct {
	ConfigHash string
	Reason     string
}

// AccountBlocked is obAccountBlocked: a call breached a toll-fraud rule
// and the account is blocked. Reason names the rule, the limit and when
// the block ends.
type AccountBlocked struct {
	Account string
	Realm   string
	Reason  string
}

func (t AccountBlocked) notification(*Snapshot) (OID, []VarBind, error) {
	return notificationOID(trapAccountBlocked), []VarBind{
		str(notifyOID(notifyAccount), t.Account),
		str(notifyOID(notifyRealmName), t.Realm),
		str(notifyOID(notifyReason), t.Reason),
	}, nil
}

func notifyOID(n uint32) OID { return scalarOID(grpNotify, n) }

func trunkBinds(s *Snapshot, up bool, name string, gws, gwsUp uint32, reason string) ([]VarBind, error) {
	idx := trunkIndex(s, name)
	if idx == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTrunk, name)
	}
	return []VarBind{
		str(columnOID(grpTrunks, colTrunkName).Append(idx), name),
		integer(columnOID(grpTrunks, colTrunkState).Append(idx), trunkState(up)),
		gauge(columnOID(grpTrunks, colTrunkGatewayCnt).Append(idx), gws),
		gauge(columnOID(grpTrunks, colTrunkGatewaysUp).Append(idx), gwsUp),
		str(notifyOID(notifyReason), reason),
	}, nil
}

func (t TrunkDown) notification(s *Snapshot) (OID, []VarBind, error) {
	vbs, err := trunkBinds(s, false, t.Trunk, t.Gateways, t.GatewaysUp, t.Reason)
	return notificationOID(trapTrunkDown), vbs, err
}

func (t TrunkUp) notification(s *Snapshot) (OID, []VarBind, error) {
	vbs, err := trunkBinds(s, true, t.Trunk, t.Gateways, t.GatewaysUp, t.Reason)
	return notificationOID(trapTrunkUp), vbs, err
}

func (t SourceBlacklisted) notification(*Snapshot) (OID, []VarBind, error) {
	return notificationOID(trapSourceBlacklisted), []VarBind{
		str(notifyOID(notifySourceAddress), t.Address),
		str(notifyOID(notifyRealmName), t.Realm),
		str(notifyOID(notifyReason), t.Reason),
	}, nil
}

func (t Overload) notification(*Snapshot) (OID, []VarBind, error) {
	return notificationOID(trapOverload), []VarBind{
		gauge(scalarOID(grpCalls, 1), t.ActiveCalls),
		gauge(scalarOID(grpCapacity, 3), t.MaxCalls),
		str(notifyOID(notifyReason), t.Reason),
	}, nil
}

func (t OverloadCleared) notification(*Snapshot) (OID, []VarBind, error) {
	return notificationOID(trapOverloadCleared), []VarBind{
		gauge(scalarOID(grpCalls, 1), t.ActiveCalls),
		gauge(scalarOID(grpCapacity, 3), t.MaxCalls),
		str(notifyOID(notifyReason), t.Reason),
	}, nil
}

func (t ConfigReloadFailed) notification(s *Snapshot) (OID, []VarBind, error) {
	hash := t.ConfigHash
	if hash == "" {
		hash = s.System.ConfigHash
	}
	return notificationOID(trapConfigReloadFailed), []VarBind{
		str(scalarOID(grpSystem, sysConfigHash), hash),
		str(scalarOID(grpSystem, sysLastReloadMessage), t.Reason),
	}, nil
}

// needsSnapshot reports whether building t reads the snapshot.
func needsSnapshot(t Trap) bool {
	switch t := t.(type) {
	case TrunkDown, TrunkUp:
		return true
	case ConfigReloadFailed:
		return t.ConfigHash == ""
	}
	return false
}
