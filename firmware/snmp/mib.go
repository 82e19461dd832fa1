package snmp

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Subtree is the OPENBORDER-MIB module OID that the agent registers. The
// enterprise number 99999 is a placeholder until the project's IANA
// Private Enterprise Number is registered.
var Subtree = OID{1, 3, 6, 1, 4, 1, 99999}

// Well-known OIDs used in notifications (RFC 3418).
var (
	oidSysUpTime   = OID{1, 3, 6, 1, 2, 1, 1, 3, 0}
	oidSnmpTrapOID = OID{1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0}
)

// Arcs of the MIB below Subtree.
const (
	arcNotifications = 0
	arcObjects       = 1

	grpSystem   = 1
	grpRealms   = 2
	grpTrunks   = 3
	grpCalls    = 4
	grpMedia    = 5
	grpCapacity = 6
	grpNotify   = 7
)

// Column numbers of the tables.
const (
	colRealmName        = 2
	colRealmTransport   = 3
	colRealmAddress     = 4
	colRealmActiveCalls = 5
	numRealmCols        = 5

	colTrunkName        = 2
	colTrunkState       = 3
	colTrunkGatewayCnt  = 4
	colTrunkGatewaysUp  = 5
	colTrunkAsr         = 6
	colTrunkActiveCalls = 7
	numTrunkCols        = 7
)

// Scalars by group: obSystem has 6, obCalls 4, obMedia 4, obCapacity 6.
const (
	sysVersion = iota + 1
	sysUptime
	sysConfigHash
	sysLastReloadTime
	sysLastReloadStatus
	sysLastReloadMessage
)

const (
	notifyReason        = 1
	notifySourceAddress = 2
	notifyRealmName     = 3
	notifyAccount       = 4
)

// Notification numbers under obNotifications.
const (
	trapTrunkDown          = 1
	trapTrunkUp            = 2
	trapSourceBlacklisted  = 3
	trapOverload           = 4
	trapConfigReloadFailed = 5
	trapOverloadCleared    = 6
	trapAccountBlocked     = 7
)

// Values of obCapOverloadState.
const (
	overloadNormal     = 1
	overloadOverloaded = 2
)

// scalars is the number of scalars of obCalls, obMedia and obCapacity.
var scalars = map[uint32]uint32{grpCalls: 4, grpMedia: 4, grpCapacity: 6}

// Trunk states of obTrunkState.
const (
	trunkUp   = 1
	trunkDown = 2
)

// maxDisplayString is the SIZE limit of DisplayString.
const maxDisplayString = 255

func objOID(group uint32, subs ...uint32) OID {
	o := make(OID, 0, len(Subtree)+2+len(subs))
	o = append(o, Subtree...)
	o = append(o, arcObjects, group)
	return append(o, subs...)
}

func scalarOID(group, n uint32) OID   { return objOID(group, n, 0) }
func columnOID(group, col uint32) OID { return objOID(group, 2, 1, col) }
func notificationOID(n uint32) OID {
	return Subtree.Append(arcNotifications, n)
}

// objects lists every object of the MIB that has instances (scalars and
// columns), sorted. A Get below one of them that matches no instance is
// noSuchInstance; anything else is noSuchObject.
var objects = func() []OID {
	var os []OID
	for i := uint32(1); i <= 6; i++ {
		os = append(os, objOID(grpSystem, i))
	}
	os = append(os, objOID(grpRealms, 1))
	for c := uint32(2); c <= numRealmCols; c++ {
		os = append(os, columnOID(grpRealms, c))
	}
	os = append(os, objOID(grpTrunks, 1))
	for c := uint32(2); c <= numTrunkCols; c++ {
		os = append(os, columnOID(grpTrunks, c))
	}
	for _, g := range []uint32{grpCalls, grpMedia, grpCapacity} {
		for i := uint32(1); i <= scalars[g]; i++ {
			os = append(os, objOID(g, i))
		}
	}
	return os
}()

// isObject reports whether o lies below (or is) an object with instances.
func isObject(o OID) bool {
	for _, obj := range objects {
		if o.HasPrefix(obj) {
			return true
		}
	}
	return false
}

// view is a snapshot mapped to sorted variable bindings.
type view []VarBind

func str(name OID, s string) VarBind {
	if len(s) > maxDisplayString {
		s = s[:maxDisplayString]
	}
	return VarBind{Name: name, Type: TypeOctetString, Bytes: []byte(s)}
}

func gauge(name OID, v uint32) VarBind {
	return VarBind{Name: name, Type: TypeGauge32, Uint: uint64(v)}
}

func counter64(name OID, v uint64) VarBind {
	return VarBind{Name: name, Type: TypeCounter64, Uint: v}
}

func integer(name OID, v int32) VarBind {
	return VarBind{Name: name, Type: TypeInteger, Int: v}
}

// timeTicks converts a duration to hundredths of a second, wrapping at
// 2^32 as TimeTicks do.
func timeTicks(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d/(10*time.Millisecond)) % (1 << 32)
}

// scaled maps f×factor to [0, limit], rounding; NaN maps to 0.
func scaled(f, factor float64, limit uint32) uint32 {
	v := math.Round(f * factor)
	switch {
	case math.IsNaN(v) || v <= 0:
		return 0
	case v >= float64(limit):
		return limit
	}
	return uint32(v)
}

// dateAndTime encodes t as an 11-octet DateAndTime in UTC; the zero time
// becomes 0000-01-01,00:00:00.0 (8 octets), the MIB's "never".
func dateAndTime(t time.Time) []byte {
	if t.IsZero() {
		return []byte{0, 0, 1, 1, 0, 0, 0, 0}
	}
	t = t.UTC()
	y := t.Year()
	if y < 0 || y > 65535 {
		return []byte{0, 0, 1, 1, 0, 0, 0, 0}
	}
	return []byte{byte(y >> 8), byte(y), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()),
		byte(t.Nanosecond() / int(100*time.Millisecond)), '+', 0, 0}
}

func reloadStatus(s ReloadStatus) int32 {
	switch s {
	case ReloadSuccess, ReloadFailed:
		return int32(s)
	}
	return 1
}

// sortedRealms returns the realms ordered by name without modifying s.
func sortedRealms(s []Realm) []Realm {
	r := slices.Clone(s)
	slices.SortStableFunc(r, func(a, b Realm) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// sortedTrunks returns the trunks ordered by name without modifying s.
func sortedTrunks(s []Trunk) []Trunk {
	r := slices.Clone(s)
	slices.SortStableFunc(r, func(a, b Trunk) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// trunkIndex is the obTrunkIndex of the named trunk, or 0.
func trunkIndex(s *Snapshot, name string) uint32 {
	for i, t := range sortedTrunks(s.Trunks) {
		if t.Name == name {
			return uint32(i + 1)
		}
	}
	return 0
}

func trunkState(up bool) int32 {
	if up {
		return trunkUp
	}
	return trunkDown
}

// rowLimit caps table sizes so that indexes stay within the MIB's range.
const rowLimit = math.MaxInt32

// buildView maps s to its variable bindings in lexicographic OID order.
func buildView(s *Snapshot) view {
	realms := sortedRealms(s.Realms)
	trunks := sortedTrunks(s.Trunks)
	if len(realms) > rowLimit {
		realms = realms[:rowLimit]
	}
	if len(trunks) > rowLimit {
		trunks = trunks[:rowLimit]
	}
	v := make(view, 0, 6+1+4*len(realms)+1+6*len(trunks)+12)

	sys := &s.System
	v = append(v,
		str(scalarOID(grpSystem, sysVersion), sys.Version),
		VarBind{Name: scalarOID(grpSystem, sysUptime), Type: TypeTimeTicks, Uint: timeTicks(sys.Uptime)},
		str(scalarOID(grpSystem, sysConfigHash), sys.ConfigHash),
		VarBind{Name: scalarOID(grpSystem, sysLastReloadTime), Type: TypeOctetString, Bytes: dateAndTime(sys.LastReload)},
		integer(scalarOID(grpSystem, sysLastReloadStatus), reloadStatus(sys.LastReloadStatus)),
		str(scalarOID(grpSystem, sysLastReloadMessage), sys.LastReloadMessage),
	)

	v = append(v, gauge(scalarOID(grpRealms, 1), uint32(len(realms))))
	for c := uint32(colRealmName); c <= numRealmCols; c++ {
		col := columnOID(grpRealms, c)
		for i, r := range realms {
			name := col.Append(uint32(i + 1))
			switch c {
			case colRealmName:
				v = append(v, str(name, r.Name))
			case colRealmTransport:
				v = append(v, str(name, r.Transport))
			case colRealmAddress:
				v = append(v, str(name, r.Address))
			case colRealmActiveCalls:
				v = append(v, gauge(name, r.ActiveCalls))
			}
		}
	}

	v = append(v, gauge(scalarOID(grpTrunks, 1), uint32(len(trunks))))
	for c := uint32(colTrunkName); c <= numTrunkCols; c++ {
		col := columnOID(grpTrunks, c)
		for i, t := range trunks {
			name := col.Append(uint32(i + 1))
			switch c {
			case colTrunkName:
				v = append(v, str(name, t.Name))
			case colTrunkState:
				v = append(v, integer(name, trunkState(t.Up)))
			case colTrunkGatewayCnt:
				v = append(v, gauge(name, t.Gateways))
			case colTrunkGatewaysUp:
				v = append(v, gauge(name, t.GatewaysUp))
			case colTrunkAsr:
				v = append(v, gauge(name, scaled(t.ASR, 10000, 10000)))
			case colTrunkActiveCalls:
				v = append(v, gauge(name, t.ActiveCalls))
			}
		}
	}

	c := &s.Calls
	v = append(v,
		gauge(scalarOID(grpCalls, 1), c.Active),
		counter64(scalarOID(grpCalls, 2), c.Attempts),
		counter64(scalarOID(grpCalls, 3), c.Answered),
		counter64(scalarOID(grpCalls, 4), c.Failed),
	)
	m := &s.Media
	v = append(v,
		gauge(scalarOID(grpMedia, 1), m.ActiveStreams),
		counter64(scalarOID(grpMedia, 2), m.PacketsRelayed),
		counter64(scalarOID(grpMedia, 3), m.PacketsLost),
		gauge(scalarOID(grpMedia, 4), scaled(m.MeanMOS, 100, 500)),
	)
	p := &s.Capacity
	v = append(v,
		gauge(scalarOID(grpCapacity, 1), p.PortPoolSize),
		gauge(scalarOID(grpCapacity, 2), p.PortPoolUsed),
		gauge(scalarOID(grpCapacity, 3), p.MaxCalls),
		gauge(scalarOID(grpCapacity, 4), p.CallLimit),
		integer(scalarOID(grpCapacity, 5), overloadState(p.Overloaded)),
		gauge(scalarOID(grpCapacity, 6), p.ShedRate),
	)
	return v
}

// get answers a Get for name: the binding, or noSuchInstance /
// noSuchObject carrying the requested name.
func (v view) get(name OID) VarBind {
	i, found := slices.BinarySearchFunc(v, name, func(vb VarBind, o OID) int { return vb.Name.Compare(o) })
	if found {
		return v[i]
	}
	if isObject(name) {
		return VarBind{Name: name, Type: TypeNoSuchInstance}
	}
	return VarBind{Name: name, Type: TypeNoSuchObject}
}

// next answers a GetNext for r: the first binding after r.Start (or at it
// when r.Include) and before r.End, else endOfMibView named r.Start.
func (v view) next(r SearchRange) VarBind {
	i, found := slices.BinarySearchFunc(v, r.Start, func(vb VarBind, o OID) int { return vb.Name.Compare(o) })
	if found && !r.Include {
		i++
	}
	if i < len(v) && (len(r.End) == 0 || v[i].Name.Compare(r.End) < 0) {
		return v[i]
	}
	return VarBind{Name: r.Start, Type: TypeEndOfMibView}
}

// maxBulkVarBinds bounds the size of one GetBulk response.
const maxBulkVarBinds = 2048

// bulk answers a GetBulk as RFC 2741 section 7.2.3.3 describes.
func (v view) bulk(nonRepeaters, maxRepetitions int, ranges []SearchRange) []VarBind {
	nonRepeaters = min(nonRepeaters, len(ranges))
	out := make([]VarBind, 0, min(maxBulkVarBinds, nonRepeaters+maxRepetitions*(len(ranges)-nonRepeaters)))
	for _, r := range ranges[:nonRepeaters] {
		out = append(out, v.next(r))
	}
	reps := slices.Clone(ranges[nonRepeaters:])
	if len(reps) == 0 {
		return out
	}
	for n := 0; n < maxRepetitions && len(out)+len(reps) <= maxBulkVarBinds; n++ {
		ended := 0
		for j := range reps {
			vb := v.next(reps[j])
			out = append(out, vb)
			if vb.Type == TypeEndOfMibView {
				ended++
				continue
			}
			reps[j].Start, reps[j].Include = vb.Name, false
		}
		if ended == len(reps) {
			break
		}
	}
	return out
}

func overloadState(on bool) int32 {
	if on {
		return overloadOverloaded
	}
	return overloadNormal
}
