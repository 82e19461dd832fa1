package snmp

import "time"

// Source is implemented by the daemon. Snapshot is called once per AgentX
// request (a Get, GetNext or GetBulk batch from the master) and once per
// trunk notification, so it must be cheap and safe for concurrent use. The
// returned value is read only; slices may be shared with the caller.
type Source interface {
	Snapshot() Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func() Snapshot

// Snapshot implements Source.
func (f SourceFunc) Snapshot() Snapshot { return f() }

// Snapshot is the daemon's state as plain values, mapped by the agent to
// OPENBORDER-MIB. Realms and trunks may come in any order: the agent
// orders them by name and numbers the rows 1, 2, 3 ...
type Snapshot struct {
	System   System
	Realms   []Realm
	Trunks   []Trunk
	Calls    Calls
	Media    Media
	Capacity Capacity
}

// ReloadStatus is the outcome of the last configuration reload; the values
// are those of obSysLastReloadStatus.
type ReloadStatus int

// Reload outcomes. The zero value is ReloadNone.
const (
	ReloadNone    ReloadStatus = 0 // no reload attempted (MIB value none(1))
	ReloadSuccess ReloadStatus = 2 // MIB value success(2)
	ReloadFailed  ReloadStatus = 3 // MIB value failed(3)
)

// System is the obSystem group.
type System struct {
	// Version is the software version string (obSysVersion).
	Version string
	// Uptime is the daemon's uptime (obSysUptime, in TimeTicks).
	Uptime time.Duration
	// ConfigHash identifies the configuration in force (obSysConfigHash).
	ConfigHash string
	// LastReload is when the last reload was attempted; zero for never
	// (obSysLastReloadTime).
	LastReload time.Time
	// LastReloadStatus is the outcome of that reload (obSysLastReloadStatus).
	LastReloadStatus ReloadStatus
	// LastReloadMessage is the first problem of a failed reload
	// (obSysLastReloadMessage).
	LastReloadMessage string
}

// Realm is one row of obRealmTable.
type Realm struct {
	Name        string // obRealmName
	Transport   string // obRealmTransport, e.g. "udp,tcp,ws"
	Address     string // obRealmAddress, host:port
	ActiveCalls uint32 // obRealmActiveCalls
}

// Trunk is one row of obTrunkTable.
type Trunk struct {
	Name        string  // obTrunkName
	Up          bool    // obTrunkState: up(1) or down(2)
	Gateways    uint32  // obTrunkGatewayCount
	GatewaysUp  uint32  // obTrunkGatewaysUp
	ASR         float64 // answer-seizure ratio 0..1; obTrunkAsr in hundredths of a percent
	ActiveCalls uint32  // obTrunkActiveCalls
}

// Calls is the obCalls group.
type Calls struct {
	Active   uint32 // obCallsActive
	Attempts uint64 // obCallsAttempts
	Answered uint64 // obCallsAnswered
	Failed   uint64 // obCallsFailed
}

// Media is the obMedia group.
type Media struct {
	ActiveStreams  uint32  // obMediaActiveStreams
	PacketsRelayed uint64  // obMediaPacketsRelayed
	PacketsLost    uint64  // obMediaPacketsLost
	MeanMOS        float64 // 1.0..5.0, 0 when unmeasured; obMediaMeanMos is ×100
}

// Capacity is the obCapacity group.
type Capacity struct {
	PortPoolSize uint32 // obCapPortPoolSize
	PortPoolUsed uint32 // obCapPortPoolUsed
	MaxCalls     uint32 // obCapMaxCalls, 0 = no limit
	CallLimit    uint32 // obCapCallLimit, 0 = unlimited
	Overloaded   bool   // obCapOverloadState: overloaded(2) when true, else normal(1)
	ShedRate     uint32 // obCapShedRate: refusals per second of the last sample
}
