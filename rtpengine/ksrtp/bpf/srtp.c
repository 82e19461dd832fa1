// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel SRTP for offloaded streams (rtpengine/ksrtp).
 *
 * A tc ingress program. For a UDP/IPv4 datagram whose destination port
 * names an active stream slot and whose addresses are that stream's
 * latched flow, it either
 *   - unprotects SRTP (AES_CM_128_HMAC_SHA1_80/32): authenticates, checks
 *     replay, decrypts, strips the tag; or
 *   - protects RTP: encrypts, appends the tag;
 * fixes the IP and UDP lengths and checksums, and forwards the datagram
 * to the other leg itself: addresses and ports rewritten to our port on
 * that leg and its latched peer, then delivered on this host or sent
 * out of the egress device towards the next hop (no conntrack, no
 * routing in the stack). Datagrams of the flow the program cannot handle
 * are dropped and counted (never passed on in the wrong form); user
 * space reads the counters and takes the stream back. Everything else
 * passes untouched to the next filter on the hook (each sbcd on a host,
 * e.g. media nodes, attaches its own).
 *
 * Built with `make bpf` (clang -target bpf); the object is committed
 * beside this file and embedded in sbcd. No maps other than the global
 * data: user space memory-maps .bss and writes the tables and slots.
 */
#include <linux/bpf.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define SEC(n) __attribute__((section(n), used))
#define INLINE static inline __attribute__((always_inline))

static long (*bpf_skb_store_bytes)(void *skb, u32 off, const void *from, u32 len, u64 flags) = (void *)9;
static long (*bpf_l4_csum_replace)(void *skb, u32 off, u64 from, u64 to, u64 flags) = (void *)11;
static long (*bpf_skb_load_bytes)(const void *skb, u32 off, void *to, u32 len) = (void *)26;
static u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static long (*bpf_skb_change_tail)(void *skb, u32 len, u64 flags) = (void *)38;
static long (*bpf_skb_pull_data)(void *skb, u32 len) = (void *)39;
static long (*bpf_loop)(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags) = (void *)181;
static long (*bpf_redirect_neigh)(u32 ifindex, struct bpf_redir_neigh *params, int plen, u64 flags) = (void *)152;

/* Callbacks of bpf_loop live in the program's section, after it. */
#define CALLBACK static __attribute__((noinline, section("tc"))) long

/* Sizes shared with stream.go (layout checked by a Go test). */
#define MAX_STREAMS 8192
#define MAX_CPUS 256
#define MAX_PKT 1472 /* RTP datagram bytes handled; larger ones are dropped and counted */
#define BUF 2048 /* MAX_PKT, the ROC and SHA-1 padding, rounded up to the index mask */
#define WINDOW 64
/* Per-CPU scratch: the datagram (with the ROC and SHA-1 padding) in
 * [0, BUF), then a copy of the received tag and the SHA-1 schedule. */
#define TAG_AT (BUF + 64)    /* 10 bytes */
#define SCHED_AT (BUF + 192) /* 80 words; the outer HMAC block is written at its start */

#define MODE_UNPROTECT 1
#define MODE_PROTECT 2

#define L3 14
#define L4 (L3 + 20)
#define L7 (L4 + 8)

#define TC_NEXT -1 /* TC_ACT_UNSPEC: not ours, the next filter (another sbcd's) decides */
#define TC_OK 0
#define TC_SHOT 2
#define LOOPBACK 1 /* the loopback device's index, in every namespace */

struct stream {
	u32 active;    /* written last when a slot is filled, cleared first */
	u32 mode;
	u32 saddr;     /* the latched peer (network order) */
	u32 daddr;     /* our address (network order) */
	u16 sport;     /* network order */
	u16 dport;     /* network order */
	u32 ssrc;      /* the stream's SSRC */
	u32 tag_len;   /* 10 or 4 */
	u32 rk[44];    /* AES-128 encryption round keys */
	u32 salt[4];   /* session salt, 112 bits, left-aligned */
	u32 ipad[5];   /* SHA-1 state after the HMAC inner pad block */
	u32 opad[5];   /* ... after the outer pad block */
	u32 _pad;
	u64 index;     /* highest index seen (roc << 16 | seq); bit 63: none yet, roc only */
	u64 window[WINDOW]; /* unprotect: index + 1 of the last packet in each slot */
	u64 packets;   /* handled and passed on */
	u64 bytes;     /* RTP datagram bytes passed on (after the transform) */
	u64 auth_fail; /* dropped: bad tag */
	u64 replayed;  /* dropped: replayed or too old */
	u64 other;     /* dropped: another SSRC, not RTP, too large, IP options, fragment */
	/*
	 * Where the datagram goes (out_fwd 0: nowhere, it passes on with its
	 * addresses as they came): from our port on the other leg to that
	 * leg's latched peer, delivered on this host (out_ifindex 0) or sent
	 * out of device out_ifindex to next hop out_nh.
	 */
	u32 out_saddr;   /* network order, as the ports */
	u32 out_daddr;
	u16 out_sport;
	u16 out_dport;
	u32 out_ifindex;
	u32 out_nh;
	u8 out_fwd;
	u8 out_tos;      /* the IP TOS byte of what is sent (DSCP << 2) */
	u16 _rsv;
};

struct stream streams[MAX_STREAMS];
u16 port_slot[65536];           /* destination port (host order) -> slot + 1 */
u32 Te[4][256];                 /* AES T-tables (Te0 and its rotations), filled by user space */
u8 Sbox[256];                   /* AES S-box, filled by user space */
u8 scratch[MAX_CPUS][2 * BUF]; /* per CPU: see TAG_AT and SCHED_AT */

INLINE u32 rol(u32 x, int n) { return (x << n) | (x >> (32 - n)); }
INLINE u32 be32(const u8 *p) { return __builtin_bswap32(*(const u32 *)p); } /* unaligned loads are fine on the JITs we run */
INLINE u16 bswap16(u16 x) { return (x >> 8) | (x << 8); }

INLINE void aes_block(const u32 *rk, const u32 in[4], u32 out[4])
{
	u32 s0 = in[0] ^ rk[0], s1 = in[1] ^ rk[1], s2 = in[2] ^ rk[2], s3 = in[3] ^ rk[3];
	u32 t0, t1, t2, t3;
	for (int r = 1; r < 10; r++) {
		const u32 *k = rk + 4 * r;
		t0 = Te[0][s0 >> 24] ^ Te[1][(s1 >> 16) & 0xff] ^ Te[2][(s2 >> 8) & 0xff] ^ Te[3][s3 & 0xff] ^ k[0];
		t1 = Te[0][s1 >> 24] ^ Te[1][(s2 >> 16) & 0xff] ^ Te[2][(s3 >> 8) & 0xff] ^ Te[3][s0 & 0xff] ^ k[1];
		t2 = Te[0][s2 >> 24] ^ Te[1][(s3 >> 16) & 0xff] ^ Te[2][(s0 >> 8) & 0xff] ^ Te[3][s1 & 0xff] ^ k[2];
		t3 = Te[0][s3 >> 24] ^ Te[1][(s0 >> 16) & 0xff] ^ Te[2][(s1 >> 8) & 0xff] ^ Te[3][s2 & 0xff] ^ k[3];
		s0 = t0; s1 = t1; s2 = t2; s3 = t3;
	}
	const u32 *k = rk + 40;
	out[0] = ((u32)Sbox[s0 >> 24] << 24 | (u32)Sbox[(s1 >> 16) & 0xff] << 16 | (u32)Sbox[(s2 >> 8) & 0xff] << 8 | Sbox[s3 & 0xff]) ^ k[0];
	out[1] = ((u32)Sbox[s1 >> 24] << 24 | (u32)Sbox[(s2 >> 16) & 0xff] << 16 | (u32)Sbox[(s3 >> 8) & 0xff] << 8 | Sbox[s0 & 0xff]) ^ k[1];
	out[2] = ((u32)Sbox[s2 >> 24] << 24 | (u32)Sbox[(s3 >> 16) & 0xff] << 16 | (u32)Sbox[(s0 >> 8) & 0xff] << 8 | Sbox[s1 & 0xff]) ^ k[2];
	out[3] = ((u32)Sbox[s3 >> 24] << 24 | (u32)Sbox[(s0 >> 16) & 0xff] << 16 | (u32)Sbox[(s1 >> 8) & 0xff] << 8 | Sbox[s2 & 0xff]) ^ k[3];
}

/*
 * SHA-1 rounds five at a time: the working variables change roles instead
 * of moving, and the message words sit at constant offsets from p.
 */
#define SHA1_R(v, w_, x, y, z, F, K, i)                                    \
	do {                                                               \
		z += rol(v, 5) + (F) + (K) + p[i];                         \
		w_ = rol(w_, 30);                                          \
	} while (0)
#define SHA1_CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define SHA1_PAR(x, y, z) ((x) ^ (y) ^ (z))
#define SHA1_MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))
#define SHA1_5(FN, K)                                                      \
	do {                                                               \
		SHA1_R(a, b, c, d, e, FN(b, c, d), K, 0);                  \
		SHA1_R(e, a, b, c, d, FN(a, b, c), K, 1);                  \
		SHA1_R(d, e, a, b, c, FN(e, a, b), K, 2);                  \
		SHA1_R(c, d, e, a, b, FN(d, e, a), K, 3);                  \
		SHA1_R(b, c, d, e, a, FN(c, d, e), K, 4);                  \
	} while (0)

/* sha1_words compresses one block whose 16 words are in w[0:16]; w has
 * room for the 80-word schedule. */
INLINE void sha1_words(u32 h[5], u32 *w)
{
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	const u32 *p = w;
	for (int i = 0; i < 4; i++, p += 5)
		SHA1_5(SHA1_CH, 0x5A827999);
	for (int i = 0; i < 4; i++, p += 5)
		SHA1_5(SHA1_PAR, 0x6ED9EBA1);
	for (int i = 0; i < 4; i++, p += 5)
		SHA1_5(SHA1_MAJ, 0x8F1BBCDC);
	for (int i = 0; i < 4; i++, p += 5)
		SHA1_5(SHA1_PAR, 0xCA62C1D6);
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/*
 * sha_ctx is a hash in progress: block b of the message at buf, or, with
 * words set, the one block whose 16 words are already at the start of the
 * schedule (the outer HMAC block). One compression function serves both.
 */
struct sha_ctx {
	u32 h[5];
	u32 words;
	u8 *buf;
};

CALLBACK sha1_cb(u32 b, struct sha_ctx *c);

/*
 * hmac computes HMAC-SHA1(auth key, buf[0:n] || roc) into g. buf has room
 * for the ROC and the padding after n; they are written there.
 */
INLINE void hmac(const struct stream *s, u8 *buf, u32 n, u32 roc, u32 g[5])
{
	u8 *q = buf + (n & 2047);
	q[0] = roc >> 24;
	q[1] = roc >> 16;
	q[2] = roc >> 8;
	q[3] = roc;
	u32 m = n + 4;
	u32 nb = (m + 9 + 63) / 64;
	u32 end = nb * 64;
	buf[m & 2047] = 0x80;
	buf[(m + 1) & 2047] = 0;
	buf[(m + 2) & 2047] = 0;
	buf[(m + 3) & 2047] = 0;
	for (u32 i = 4; i < 76; i += 8) /* up to and past end: bytes after end are scratch */
		*(u64 *)(buf + ((m + i) & 2047)) = 0;
	u64 bits = (u64)(64 + m) * 8;
	for (int i = 0; i < 8; i++)
		buf[(end - 1 - i) & 2047] = bits >> (8 * i);
	struct sha_ctx c = { .h = { s->ipad[0], s->ipad[1], s->ipad[2], s->ipad[3], s->ipad[4] }, .buf = buf };
	bpf_loop(nb, sha1_cb, &c, 0);
	u32 *w = (u32 *)(buf + SCHED_AT); /* the outer block, where the schedule starts */
	for (int i = 0; i < 5; i++)
		w[i] = c.h[i];
	w[5] = 0x80000000;
	w[6] = w[7] = w[8] = w[9] = w[10] = w[11] = w[12] = w[13] = w[14] = 0;
	w[15] = (64 + 20) * 8;
	struct sha_ctx o = { .h = { s->opad[0], s->opad[1], s->opad[2], s->opad[3], s->opad[4] }, .words = 1, .buf = buf };
	bpf_loop(1, sha1_cb, &o, 0);
	for (int i = 0; i < 5; i++)
		g[i] = o.h[i];
}

INLINE u8 tag_byte(const u32 g[5], int i) { return g[i / 4] >> (24 - 8 * (i % 4)); }

INLINE u32 csum_sub(u32 a, u32 b)
{
	u32 nb = ~b;
	u32 r = a + nb;
	return r + (r < nb);
}

/* fold32 folds an unfolded 64-bit ones' complement sum to 32 bits. */
INLINE u32 fold32(u64 x)
{
	x = (x & 0xffffffff) + (x >> 32);
	x = (x & 0xffffffff) + (x >> 32);
	return (u32)x;
}

struct ctr_ctx {
	const struct stream *s;
	u8 *buf;
	u32 iv[4];
	u32 from;
	u32 to;
	u64 old;   /* ones' complement sums (unfolded, native order) of the bytes */
	u64 neu;   /* in [from, to) before and after the keystream */
};

CALLBACK ctr_cb(u32 blk, struct ctr_ctx *c);

/*
 * ctr XORs the AES-CM keystream of index idx into buf[from:to] and returns
 * what that changes in the ones' complement sum of the bytes (from is a
 * multiple of 4, so its words start at even checksum offsets).
 */
INLINE u32 ctr(const struct stream *s, u8 *buf, u32 from, u32 to, u32 ssrc, u64 idx)
{
	struct ctr_ctx c = { .s = s, .buf = buf, .from = from, .to = to };
	c.iv[0] = s->salt[0];
	c.iv[1] = s->salt[1] ^ ssrc;
	c.iv[2] = s->salt[2] ^ (u32)(idx >> 16); /* the 48-bit index sits at bits 16..63 */
	c.iv[3] = s->salt[3] ^ ((u32)idx << 16);
	if (to > from)
		bpf_loop((to - from + 15) / 16, ctr_cb, &c, 0);
	return csum_sub(fold32(c.neu), fold32(c.old));
}

/* tag_sum is the ones' complement sum of the tl tag bytes t that sit at
 * datagram offset m (native order: a byte at an even offset from the UDP
 * header is the low byte of its 16-bit word on this little-endian machine). */
INLINE u32 tag_sum(const u8 *t, u32 m, u32 tl)
{
	u32 x = 0;
	for (u32 i = 0; i < 10; i++) {
		if (i >= tl)
			break;
		x += (m + i) & 1 ? (u32)t[i] << 8 : t[i];
	}
	return x;
}

/* estimate is RFC 3711's index guess for seq against the highest index. */
INLINE u64 estimate(u64 hi, u16 seq)
{
	if (hi >> 63)
		return ((hi & 0xffffffff0000ULL)) | seq; /* first packet: the roc as given */
	u32 roc = hi >> 16;
	u16 sl = hi;
	u32 v = roc;
	if (sl < 32768) {
		if ((int)seq - (int)sl > 32768 && roc > 0)
			v = roc - 1;
	} else if ((int)sl - 32768 > (int)seq) {
		v = roc + 1;
	}
	return ((u64)v << 16) | seq;
}

/* raise makes *p at least v (bounded retries; a lost race leaves a newer value). */
INLINE void raise(u64 *p, u64 v)
{
	for (int i = 0; i < 4; i++) {
		u64 cur = *(volatile u64 *)p;
		if (!(cur >> 63) && cur >= v)
			return;
		if (__sync_val_compare_and_swap(p, cur, v) == cur)
			return;
	}
}

/*
 * headers rewrites the IP header and the UDP header of a datagram that
 * now carries n RTP bytes: the lengths, and with the slot's forwarding
 * the addresses, ports, TOS and a fresh TTL. The IP checksum is computed
 * afresh; the UDP checksum is corrected through the helpers, which know
 * the skb's checksum state: the pseudo header's change with
 * BPF_F_PSEUDO_HDR, the UDP header's and diff (the change of the bytes
 * after the UDP header) without.
 */
INLINE int headers(struct __sk_buff *skb, const struct stream *s, u32 n, u32 diff)
{
	u32 h[7]; /* native-order words: IP header [0, 5), UDP ports, UDP length and checksum */
	if (bpf_skb_load_bytes(skb, L3, h, sizeof(h)) < 0)
		return -1;
	u32 old_p = fold32((u64)h[3] + h[4] + (h[6] & 0xffff));
	u32 old_u = fold32((u64)h[5] + (h[6] & 0xffff));
	u32 ulen = bswap16(8 + n);
	h[0] = (h[0] & 0xffff) | (u32)bswap16(L4 - L3 + 8 + n) << 16;
	if (s->out_fwd) {
		h[0] = (h[0] & 0xffff00ff) | (u32)s->out_tos << 8;
		h[2] = (h[2] & 0xffffff00) | 64;
		h[3] = s->out_saddr;
		h[4] = s->out_daddr;
		h[5] = s->out_sport | (u32)s->out_dport << 16;
	}
	h[6] = (h[6] & 0xffff0000) | ulen;
	h[2] &= 0xffff;
	u32 c = fold32((u64)h[0] + h[1] + h[2] + h[3] + h[4]);
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	h[2] |= (~c & 0xffff) << 16;
	if (bpf_skb_store_bytes(skb, L3, h, 20, 0) < 0)
		return -1;
	u32 dp = csum_sub(fold32((u64)h[3] + h[4] + ulen), old_p);
	if (bpf_l4_csum_replace(skb, L4 + 6, 0, dp, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0) < 0)
		return -1;
	u32 du = csum_sub(fold32((u64)h[5] + ulen), old_u);
	du += diff;
	du += du < diff; /* end-around carry */
	if (bpf_l4_csum_replace(skb, L4 + 6, 0, du, BPF_F_MARK_MANGLED_0) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, L4, &h[5], 6, 0) < 0 ? -1 : 0;
}

INLINE int drop_other(struct stream *s)
{
	__sync_fetch_and_add(&s->other, 1);
	return TC_SHOT;
}

/* deliver is the verdict for a datagram made ready for the other leg. */
INLINE int deliver(struct __sk_buff *skb, struct stream *s)
{
	if (!s->out_fwd)
		return TC_OK;
	if (s->out_ifindex == 0) /* a peer on this host, and so was the sender */
		return skb->ifindex == LOOPBACK ? TC_OK : drop_other(s);
	struct bpf_redir_neigh nh = { .nh_family = 2 /* AF_INET */, .ipv4_nh = s->out_nh };
	return bpf_redirect_neigh(s->out_ifindex, &nh, sizeof(nh), 0);
}

SEC("tc")
int srtp(struct __sk_buff *skb)
{
	if (skb->protocol != bswap16(0x0800))
		return TC_NEXT;
	/* Headers by direct packet access: a datagram that is not ours costs a few loads. */
	u8 *hdr = (u8 *)(long)skb->data, *end = (u8 *)(long)skb->data_end;
	if (hdr + L7 > end) {
		if (bpf_skb_pull_data(skb, L7) < 0)
			return TC_NEXT;
		hdr = (u8 *)(long)skb->data;
		end = (u8 *)(long)skb->data_end;
		if (hdr + L7 > end)
			return TC_NEXT;
	}
	if (hdr[L3 + 9] != 17) /* UDP */
		return TC_NEXT;
	u32 ihl = (hdr[L3] & 0x0f) * 4;
	u8 *udp = hdr + L4;
	if (ihl != 20) { /* IP options: find the ports to know whether the flow is ours */
		if (ihl < 20)
			return TC_NEXT;
		udp = hdr + L3 + (ihl & 0x3c);
		if (udp + 8 > end)
			return TC_NEXT;
	}
	u32 saddr = *(u32 *)&hdr[L3 + 12], daddr = *(u32 *)&hdr[L3 + 16];
	u16 sport = *(u16 *)&udp[0], dport = *(u16 *)&udp[2];
	u8 frag = (hdr[L3 + 6] & 0x3f) | hdr[L3 + 7]; /* more fragments or an offset */
	u32 slot = port_slot[bswap16(dport)];
	if (slot == 0 || slot > MAX_STREAMS)
		return TC_NEXT;
	struct stream *s = &streams[(slot - 1) & (MAX_STREAMS - 1)];
	if (!*(volatile u32 *)&s->active || saddr != s->saddr || daddr != s->daddr || sport != s->sport || dport != s->dport)
		return TC_NEXT; /* not a latched flow: user space decides */
	/* the flow is ours from here: what we cannot handle is dropped */
	if (ihl != 20 || frag)
		return drop_other(s); /* IP options or a fragment */
	u8 *buf = scratch[bpf_get_smp_processor_id() & (MAX_CPUS - 1)];
	u32 n = skb->len - L7;
	u32 tl = s->tag_len == 4 ? 4 : 10;
	u32 mode = s->mode;
	if (n > MAX_PKT || n < 12 || (mode == MODE_UNPROTECT && n < 12 + tl) || (mode == MODE_PROTECT && n + tl > MAX_PKT))
		return drop_other(s);
	n &= 2047;
	if (n < 12 || n > MAX_PKT)
		return drop_other(s);
	if (bpf_skb_load_bytes(skb, L7, buf, n) < 0)
		return drop_other(s);
	if ((buf[0] >> 6) != 2 || (buf[1] >= 192 && buf[1] <= 223) || be32(buf + 8) != s->ssrc)
		return drop_other(s); /* not RTP (RTCP is never offloaded), or another SSRC */
	u32 hl = 12 + (buf[0] & 0x0f) * 4;
	u32 m = mode == MODE_UNPROTECT ? n - tl : n; /* RTP bytes, header and payload */
	if (buf[0] & 0x10) {
		if (hl + 4 > m)
			return drop_other(s);
		u32 xl = ((u32)buf[(hl + 2) & 2047] << 8) | buf[(hl + 3) & 2047];
		hl += 4 + xl * 4;
	}
	if (hl > m)
		return drop_other(s);
	u16 seq = ((u16)buf[2] << 8) | buf[3];
	u64 hi = *(volatile u64 *)&s->index;
	u64 idx = estimate(hi, seq);
	u32 roc = idx >> 16;
	u32 g[5];

	if (mode == MODE_UNPROTECT) {
		u64 *w = &s->window[idx & (WINDOW - 1)];
		u64 seen = *(volatile u64 *)w;
		if ((!(hi >> 63) && idx + WINDOW <= (hi & 0xffffffffffffULL)) || seen >= idx + 1) {
			__sync_fetch_and_add(&s->replayed, 1);
			return TC_SHOT;
		}
		u8 *tag = buf + TAG_AT;
		for (u32 i = 0; i < 10; i++)
			tag[i] = buf[(m + i) & 2047];
		hmac(s, buf, m, roc, g);
		u32 bad = 0;
		for (u32 i = 0; i < 4; i++)
			bad |= tag[i] ^ tag_byte(g, i);
		if (tl == 10)
			for (u32 i = 4; i < 10; i++)
				bad |= tag[i] ^ tag_byte(g, i);
		if (bad) {
			__sync_fetch_and_add(&s->auth_fail, 1);
			return TC_SHOT;
		}
		if (__sync_val_compare_and_swap(w, seen, idx + 1) != seen) {
			__sync_fetch_and_add(&s->replayed, 1); /* raced with the same or a newer packet */
			return TC_SHOT;
		}
		raise(&s->index, idx);
		u32 diff = csum_sub(ctr(s, buf, hl, m, s->ssrc, idx), tag_sum(tag, m, tl));
		u32 dl = (m - hl) & 2047;
		if (dl > 0 && bpf_skb_store_bytes(skb, L7 + hl, buf + (hl & 1023), dl, BPF_F_RECOMPUTE_CSUM) < 0)
			return drop_other(s);
		if (bpf_skb_change_tail(skb, L7 + m, 0) < 0)
			return drop_other(s);
		if (headers(skb, s, m, diff) < 0)
			return drop_other(s);
		__sync_fetch_and_add(&s->packets, 1);
		__sync_fetch_and_add(&s->bytes, m);
		return deliver(skb, s);
	}
	if (mode != MODE_PROTECT)
		return drop_other(s);
	raise(&s->index, idx);
	u32 diff = ctr(s, buf, hl, m, s->ssrc, idx);
	u32 dl = (m - hl) & 2047;
	if (dl > 0 && bpf_skb_store_bytes(skb, L7 + hl, buf + (hl & 1023), dl, BPF_F_RECOMPUTE_CSUM) < 0)
		return drop_other(s);
	hmac(s, buf, m, roc, g);
	for (u32 i = 0; i < 10; i++)
		buf[(m + i) & 2047] = tag_byte(g, i);
	u32 ts = tag_sum(buf + (m & 2047), m, tl);
	diff += ts;
	diff += diff < ts; /* end-around carry */
	if (bpf_skb_change_tail(skb, L7 + m + tl, 0) < 0)
		return drop_other(s);
	if (bpf_skb_store_bytes(skb, L7 + m, buf + (m & 2047), tl == 4 ? 4 : 10, BPF_F_RECOMPUTE_CSUM) < 0)
		return drop_other(s);
	if (headers(skb, s, m + tl, diff) < 0)
		return drop_other(s);
	__sync_fetch_and_add(&s->packets, 1);
	__sync_fetch_and_add(&s->bytes, m + tl);
	return deliver(skb, s);
}

/* The callbacks follow the program: its entry must be the section's first instruction. */
CALLBACK sha1_cb(u32 b, struct sha_ctx *c)
{
	u32 *w = (u32 *)(c->buf + SCHED_AT); /* off the stack */
	if (!c->words) {
		const u8 *p = c->buf + ((b * 64) & 2047);
		for (int i = 0; i < 16; i++)
			w[i] = be32(p + 4 * i);
	}
	sha1_words(c->h, w);
	return 0;
}

CALLBACK ctr_cb(u32 blk, struct ctr_ctx *c)
{
	u32 in[4] = { c->iv[0], c->iv[1], c->iv[2], c->iv[3] + blk }, ks[4];
	aes_block(c->s->rk, in, ks);
	u32 off = c->from + blk * 16;
	u8 *p = c->buf + (off & 2047);
	for (int j = 0; j < 4; j++) { /* bytes past the end are scratch, and not summed */
		u32 o = *(u32 *)(p + 4 * j), n = o ^ __builtin_bswap32(ks[j]);
		*(u32 *)(p + 4 * j) = n;
		u32 at = off + 4 * j;
		if (at >= c->to)
			break;
		if (at + 4 > c->to) { /* 1-3 bytes: the low addresses, the low bits */
			u32 mask = (1u << (8 * (c->to - at))) - 1;
			o &= mask;
			n &= mask;
		}
		c->old += o;
		c->neu += n;
	}
	return 0;
}

char _license[] SEC("license") = "GPL";

_Static_assert(sizeof(struct stream) == 848, "stream.go streamSize");
_Static_assert(__builtin_offsetof(struct stream, rk) == 28, "stream.go offRK");
_Static_assert(__builtin_offsetof(struct stream, index) == 264, "stream.go offIndex");
_Static_assert(__builtin_offsetof(struct stream, packets) == 784, "stream.go offPackets");
_Static_assert(__builtin_offsetof(struct stream, other) == 816, "stream.go offOther");
_Static_assert(__builtin_offsetof(struct stream, out_saddr) == 824, "stream.go offOutSaddr");
_Static_assert(__builtin_offsetof(struct stream, out_fwd) == 844, "stream.go offOutFwd");
