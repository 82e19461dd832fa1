package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 8489 long-term credentials and the TURN REST API use HMAC-SHA1.
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// RESTCredentials returns TURN REST API credentials (draft-uberti-behave-
// turn-rest) for user, valid until now+ttl: the username is
// "<expiry unix time>:<user>" and the password base64(HMAC-SHA1(secret,
// username)). Anyone holding the secret can check them without state.
func RESTCredentials(secret, user string, ttl time.Duration, now time.Time) (username, password string, expires time.Time) {
	expires = now.Add(ttl).Truncate(time.Second)
	username = strconv.FormatInt(expires.Unix(), 10)
	if user != "" {
		username += ":" + user
	}
	return username, restPassword(secret, username), expires
}

func restPassword(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// parseREST splits a REST username into its expiry and user.
func parseREST(username string) (expiry time.Time, user string, ok bool) {
	ts, user, _ := strings.Cut(username, ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, "", false
	}
	return time.Unix(n, 0), user, true
}
