/*
 * b2bingress: the receive side of one socket of one call leg.
 *
 * - No RTP Bleed: a packet is accepted only from the peer's address given in its SDP
 *   (`remote-address`); until it is set, nothing is accepted. `latch=false`: only the SDP port
 *   (`remote-port`). `latch=true` (NAT): one source port is latched (`latched-port`), by this rule
 *   (core/media/README.md, "Media latching"):
 *   - `latch-authenticated=true` (SRTP): an RTP/RTCP packet from a port other than the latched one is
 *     passed to the SRTP element with a B2bLatchMeta (b2bshared.h); only a packet that authenticates
 *     there latches its port (b2b_ingress_latch_verdict), and it is counted only then. One that fails is
 *     counted in `rejected-unauthenticated`. DTLS / ZRTP packets (of a handshake this leg runs) from the SDP port
 *     latch it until a packet has authenticated; from another port they are dropped (`rejected-wrong-port`) for
 *     HANDSHAKE_GRACE_US after the peer's address/port was set (a forged first ClientHello / Hello must neither
 *     reach the handshake nor draw its answers and our media), and only then latch if nothing latched yet (a
 *     NATed peer's handshake must be answered, late). Never after a packet authenticated.
 *   - DTLS / ZRTP packets on a leg without that handshake (its pad unlinked) never latch; from a port other than
 *     the SDP / latched one they count in `rejected-wrong-port`.
 *   - plain: the first packet from the SDP address latches its port; a packet from the SDP port
 *     always takes the latch (the peer's own word beats whoever came first); another port takes it
 *     only after RELATCH_PACKETS consecutive RTP/RTCP packets (none from the latched port in between)
 *     carrying the SSRC last seen from the latched port (a NAT rebinding keeps the SSRC; a stranger
 *     does not know it). Those packets are dropped.
 *   Rejected packets are counted per reason (`rejected-wrong-address`, `rejected-wrong-port`; `rejected`
 *   = both), never forwarded.
 * - Splits RTP (src pad) from RTCP (rtcp_src pad, RFC 5761 payload-type rule) so one
 *   socket can carry both (rtcp-mux), and demultiplexes the handshakes that share the media
 *   port (RFC 7983): DTLS records (first byte 20..63) to dtls_src, ZRTP packets (first byte
 *   0x10, magic cookie 'ZRTP' at offset 4) to zrtp_src. Same source-address rules for all.
 *   An unlinked pad drops its packets (counted all the same).
 * - ICE-lite (RFC 8445 section 2.5): with `ice-ufrag` / `ice-pwd` set, STUN Binding requests (first byte 0..3, magic
 *   cookie) from an address of `ice-addresses` (the peer's SDP candidates and c= address) whose USERNAME is
 *   "ice-ufrag:ice-remote-ufrag" and whose MESSAGE-INTEGRITY verifies with `ice-pwd` are answered on `socket` (the one
 *   b2bsocketsrc reads and b2bsocketsink writes); anything else is dropped silently and counted. A request with USE-CANDIDATE
 *   nominates its source address:port: from then on only that address:port is accepted (`nominated-address` /
 *   `nominated-port`, which the worker makes the b2bsocketsink's destination).
 * - Counts packets, bytes and the time of the last RTP packet; the worker reads these
 *   properties by polling (no signal, no JavaScript on the streaming thread).
 */
#include "b2bplugin.h"
#include <gst/net/gstnetaddressmeta.h>
#include <string.h>
#include "b2bstun.h"
#include "b2bshared.h"

GST_DEBUG_CATEGORY_STATIC(b2b_ingress_debug);
#define GST_CAT_DEFAULT b2b_ingress_debug

struct _B2bIngress {
  GstElement parent;
  GstPad *sinkpad, *rtp_src, *rtcp_src, *dtls_src, *zrtp_src;
  /* protected by the object lock */
  GInetAddress *allowed_addr;
  gint remote_port;
  gboolean latch;
  gint latched_port; /* 0 = not latched yet */
  gboolean latch_authenticated; /* property: the SRTP element's authentication moves the latch */
  gboolean auth_latched;        /* the latch was set by an authenticated packet */
  guint latched_ssrc;           /* last RTP/RTCP sender SSRC from the latched port (plain re-latch) */
  gboolean latched_ssrc_known;
  gint64 reset_time_us;         /* monotonic time of the last latch reset (peer address/port set) */
  gint candidate_port;          /* plain re-latch: the new port and its consecutive packets */
  guint candidate_count;
  guint64 packets_in, bytes_in, rtcp_packets_in, dtls_packets_in, zrtp_packets_in, rejected, other;
  guint64 rejected_wrong_address, rejected_wrong_port, rejected_unauthenticated, relatches;
  gint64 last_rtp_time_us, last_rtcp_time_us;
  guint last_ssrc;
  /* Loss (RFC 3550 A.3) of the current SSRC's RTP sequence numbers; lost_before = earlier SSRCs' losses. */
  struct { gboolean init; guint16 max_seq; guint32 cycles, base_seq; guint64 received; } seq;
  guint64 lost_before;
  /* ICE-lite */
  GSocket *socket;
  gchar *ice_ufrag, *ice_pwd, *ice_remote_ufrag, *ice_addresses_text;
  GPtrArray *ice_addresses; /* GInetAddress */
  GInetAddress *nominated_addr;
  gint nominated_port;
  guint64 stun_answered, stun_refused, stun_nominations;
};

G_DEFINE_TYPE(B2bIngress, b2b_ingress, GST_TYPE_ELEMENT)

enum {
  PROP_0, PROP_REMOTE_ADDRESS, PROP_REMOTE_PORT, PROP_LATCH, PROP_LATCHED_PORT, PROP_PACKETS_IN, PROP_BYTES_IN,
  PROP_RTCP_PACKETS_IN, PROP_DTLS_PACKETS_IN, PROP_ZRTP_PACKETS_IN, PROP_REJECTED, PROP_OTHER, PROP_LAST_RTP_TIME, PROP_LAST_RTCP_TIME, PROP_LAST_SSRC,
  PROP_PACKETS_LOST, PROP_SOCKET, PROP_ICE_UFRAG, PROP_ICE_PWD, PROP_ICE_REMOTE_UFRAG, PROP_ICE_ADDRESSES, PROP_NOMINATED_ADDRESS,
  PROP_NOMINATED_PORT, PROP_STUN_ANSWERED, PROP_STUN_REFUSED, PROP_STUN_NOMINATIONS, PROP_LATCH_AUTHENTICATED, PROP_REJECTED_WRONG_ADDRESS,
  PROP_REJECTED_WRONG_PORT, PROP_REJECTED_UNAUTHENTICATED, PROP_RELATCHES
};

static GstStaticPadTemplate sink_tpl = B2B_PAD_TEMPLATE("sink", GST_PAD_SINK, "ANY");
static GstStaticPadTemplate rtp_tpl = B2B_PAD_TEMPLATE("src", GST_PAD_SRC, "application/x-rtp");
static GstStaticPadTemplate rtcp_tpl = B2B_PAD_TEMPLATE("rtcp_src", GST_PAD_SRC, "application/x-rtcp");
static GstStaticPadTemplate dtls_tpl = B2B_PAD_TEMPLATE("dtls_src", GST_PAD_SRC, "application/x-dtls");
static GstStaticPadTemplate zrtp_tpl = B2B_PAD_TEMPLATE("zrtp_src", GST_PAD_SRC, "application/x-zrtp");

static const B2bCounter counters[] = {
  B2B_COUNTER(B2bIngress, PROP_PACKETS_IN, "packets-in", packets_in, "Accepted RTP packets"),
  B2B_COUNTER(B2bIngress, PROP_BYTES_IN, "bytes-in", bytes_in, "Bytes of accepted RTP and RTCP packets"),
  B2B_COUNTER(B2bIngress, PROP_DTLS_PACKETS_IN, "dtls-packets-in", dtls_packets_in, "Accepted DTLS packets (first byte 20..63, RFC 7983)"),
  B2B_COUNTER(B2bIngress, PROP_ZRTP_PACKETS_IN, "zrtp-packets-in", zrtp_packets_in, "Accepted ZRTP packets (0x10, magic cookie 'ZRTP')"),
  B2B_COUNTER(B2bIngress, PROP_RTCP_PACKETS_IN, "rtcp-packets-in", rtcp_packets_in, "Accepted RTCP packets"),
  B2B_COUNTER(B2bIngress, PROP_REJECTED, "rejected", rejected, "Packets dropped because of their source address (rejected-wrong-address + rejected-wrong-port)"),
  B2B_COUNTER(B2bIngress, PROP_REJECTED_WRONG_ADDRESS, "rejected-wrong-address", rejected_wrong_address,
      "Packets dropped: not from remote-address (or the ICE nominated address), or no remote-address yet"),
  B2B_COUNTER(B2bIngress, PROP_REJECTED_WRONG_PORT, "rejected-wrong-port", rejected_wrong_port,
      "Packets dropped: from remote-address but a port latching does not allow"),
  B2B_COUNTER(B2bIngress, PROP_REJECTED_UNAUTHENTICATED, "rejected-unauthenticated", rejected_unauthenticated,
      "latch-authenticated: packets from an unlatched port that the SRTP element refused (also in its counters)"),
  B2B_COUNTER(B2bIngress, PROP_RELATCHES, "relatches", relatches, "Times the latch moved from one port to another"),
  B2B_COUNTER(B2bIngress, PROP_OTHER, "other", other, "Accepted-source packets that are neither RTP, RTCP, DTLS nor ZRTP (e.g. STUN without ICE)"),
  B2B_COUNTER(B2bIngress, PROP_STUN_ANSWERED, "stun-answered", stun_answered, "ICE: STUN Binding requests answered with a success response"),
  B2B_COUNTER(B2bIngress, PROP_STUN_REFUSED, "stun-refused", stun_refused, "ICE: STUN messages dropped (unknown source, wrong USERNAME, MESSAGE-INTEGRITY or FINGERPRINT, malformed); indications and responses from a known source count as other"),
  B2B_COUNTER(B2bIngress, PROP_STUN_NOMINATIONS, "stun-nominations", stun_nominations, "ICE: answered Binding requests carrying USE-CANDIDATE"),
};

typedef enum { PKT_RTP, PKT_RTCP, PKT_DTLS, PKT_ZRTP, PKT_OTHER } PacketKind;

#define ZRTP_MAGIC 0x5a525450u /* 'ZRTP' */

/* RFC 7983 first-byte ranges: 0..3 STUN, 16..19 ZRTP, 20..63 DTLS, 64..79 TURN, 128..191 RTP/RTCP. */
static PacketKind classify(const guint8 *d, gsize len) {
  if (len >= 1 && d[0] >= 20 && d[0] <= 63) return PKT_DTLS;
  if (len >= 12 && d[0] == 0x10 && GST_READ_UINT32_BE(d + 4) == ZRTP_MAGIC) return PKT_ZRTP;
  if (len < 8 || (d[0] >> 6) != 2) return PKT_OTHER; /* STUN, TURN channel data... */
  if (d[1] >= 192 && d[1] <= 223) return PKT_RTCP;
  return len >= 12 ? PKT_RTP : PKT_OTHER;
}

typedef enum { SRC_ACCEPT, SRC_CANDIDATE, SRC_WRONG_ADDRESS, SRC_WRONG_PORT } SourceVerdict;

/* Plain re-latch: consecutive packets with the latched SSRC a new port must send to take the latch. */
#define RELATCH_PACKETS 5
/* SRTP legs: DTLS / ZRTP from a port other than the SDP one never latch this long after the peer's address/port was
 * set (the peer starts its handshake from its SDP port at once; a NATed one retransmits). */
#define HANDSHAKE_GRACE_US (2 * G_USEC_PER_SEC)

/* Object lock held. */
static void latch_reset(B2bIngress *self) {
  self->latched_port = 0;
  self->reset_time_us = g_get_monotonic_time();
  self->auth_latched = FALSE;
  self->latched_ssrc_known = FALSE;
  self->candidate_port = 0;
  self->candidate_count = 0;
}

/* Object lock held. */
static void latch_to(B2bIngress *self, gint port) {
  if (self->latched_port != 0 && self->latched_port != port) {
    self->relatches++;
    GST_INFO_OBJECT(self, "latch moved from port %d to %d", self->latched_port, port);
  }
  self->latched_port = port;
  self->candidate_port = 0;
  self->candidate_count = 0;
}

/* Whether a packet's source may pass (see top); may latch its port. `media` = RTP or RTCP. `expected`: FALSE for a
 * DTLS / ZRTP packet whose pad is unlinked (this leg runs no such handshake). Object lock held. */
static SourceVerdict source_check(B2bIngress *self, GstBuffer *buf, PacketKind kind, gboolean expected, guint ssrc, guint16 *port_out) {
  GstNetAddressMeta *meta = gst_buffer_get_net_address_meta(buf);
  if (!meta || !G_IS_INET_SOCKET_ADDRESS(meta->addr)) return SRC_WRONG_ADDRESS;
  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(meta->addr);
  GInetAddress *from = g_inet_socket_address_get_address(isa);
  gint port = g_inet_socket_address_get_port(isa);
  *port_out = (guint16)port;
  if (self->nominated_addr) { /* ICE chose the pair: only its remote address:port */
    if (!g_inet_address_equal(from, self->nominated_addr)) return SRC_WRONG_ADDRESS;
    return port == self->nominated_port ? SRC_ACCEPT : SRC_WRONG_PORT;
  }
  if (!self->allowed_addr || !g_inet_address_equal(from, self->allowed_addr)) return SRC_WRONG_ADDRESS;
  if (!self->latch) return port == self->remote_port ? SRC_ACCEPT : SRC_WRONG_PORT;
  gboolean media = kind == PKT_RTP || kind == PKT_RTCP;
  if (port == self->latched_port) {
    self->candidate_count = 0;
    if (media) { self->latched_ssrc = ssrc; self->latched_ssrc_known = TRUE; }
    return SRC_ACCEPT;
  }
  if (kind == PKT_OTHER) return self->latched_port == 0 ? SRC_ACCEPT : SRC_WRONG_PORT; /* dropped either way; never latches */
  if (!media && !expected) return port == self->remote_port ? SRC_ACCEPT : SRC_WRONG_PORT; /* dropped by the unlinked pad; never latches */
  if (self->latch_authenticated && media) return SRC_CANDIDATE;
  if (self->latch_authenticated && self->auth_latched) return SRC_WRONG_PORT;
  if (self->latch_authenticated && port != self->remote_port &&
      (self->latched_port != 0 || g_get_monotonic_time() - self->reset_time_us < HANDSHAKE_GRACE_US))
    return SRC_WRONG_PORT; /* a handshake packet from a port the SDP did not name: not before the grace, never over a latch */
  if (self->latched_port == 0 || port == self->remote_port) {
    latch_to(self, port);
    if (media) { self->latched_ssrc = ssrc; self->latched_ssrc_known = TRUE; }
    return SRC_ACCEPT;
  }
  if (media && self->latched_ssrc_known && ssrc == self->latched_ssrc) {
    if (self->candidate_port == port) self->candidate_count++;
    else { self->candidate_port = port; self->candidate_count = 1; }
    if (self->candidate_count >= RELATCH_PACKETS) { latch_to(self, port); return SRC_ACCEPT; }
  } else {
    self->candidate_port = 0;
    self->candidate_count = 0;
  }
  return SRC_WRONG_PORT;
}

/* Packets of the current SSRC missing from its sequence (never negative). Object lock held. */
static guint64 seq_lost(const B2bIngress *self) {
  if (!self->seq.init) return 0;
  gint64 expected = (gint64)self->seq.cycles + self->seq.max_seq - self->seq.base_seq + 1;
  gint64 lost = expected - (gint64)self->seq.received;
  return lost > 0 ? (guint64)lost : 0;
}

/* RFC 3550 A.1 without probation: a jump of more than MAX_DROPOUT restarts the count (new sender state). */
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
static void seq_update(B2bIngress *self, guint ssrc, guint16 seq) {
  if (self->seq.init && ssrc != self->last_ssrc) { self->lost_before += seq_lost(self); self->seq.init = FALSE; }
  if (!self->seq.init) {
    self->seq.init = TRUE;
    self->seq.base_seq = self->seq.max_seq = seq;
    self->seq.cycles = 0;
    self->seq.received = 1;
    return;
  }
  guint16 delta = (guint16)(seq - self->seq.max_seq);
  if (delta < MAX_DROPOUT) {
    if (seq < self->seq.max_seq) self->seq.cycles += 65536;
    self->seq.max_seq = seq;
  } else if (delta <= 65535 - MAX_MISORDER) { /* the sender restarted its sequence */
    self->lost_before += seq_lost(self);
    self->seq.base_seq = self->seq.max_seq = seq;
    self->seq.cycles = 0;
    self->seq.received = 0;
  } /* else: duplicate or reordered, counted as received */
  self->seq.received++;
}

/* Counters of an accepted packet. Object lock held. */
static void count_accepted(B2bIngress *self, PacketKind kind, guint ssrc, guint16 seq, gsize size) {
  gint64 now = g_get_real_time();
  switch (kind) {
    case PKT_RTP: seq_update(self, ssrc, seq); self->packets_in++; self->last_rtp_time_us = now; self->last_ssrc = ssrc; self->bytes_in += size; break;
    case PKT_RTCP: self->rtcp_packets_in++; self->last_rtcp_time_us = now; self->bytes_in += size; break;
    case PKT_DTLS: self->dtls_packets_in++; break;
    case PKT_ZRTP: self->zrtp_packets_in++; break;
    default: self->other++; break;
  }
}

/* Declared in b2bshared.h: the SRTP element's verdict on a packet this ingress passed from an unlatched port. */
void b2b_ingress_latch_verdict(const B2bLatchMeta *meta, gboolean authenticated) {
  B2bIngress *self = B2B_INGRESS(meta->ingress);
  GST_OBJECT_LOCK(self);
  if (!authenticated) self->rejected_unauthenticated++;
  else {
    /* A verdict for a port the latch has since left (or a reset) still latches: the packet authenticated. */
    if (self->latch && self->latch_authenticated && !self->nominated_addr) {
      latch_to(self, meta->port);
      self->auth_latched = TRUE;
      self->latched_ssrc = meta->ssrc;
      self->latched_ssrc_known = TRUE;
    }
    count_accepted(self, meta->rtcp ? PKT_RTCP : PKT_RTP, meta->ssrc, meta->seq, meta->size);
  }
  GST_OBJECT_UNLOCK(self);
}

/* TRUE if `addr` is one of ice-addresses (or remote-address). Object lock held. */
static gboolean ice_address_known(B2bIngress *self, GInetAddress *addr) {
  if (self->allowed_addr && g_inet_address_equal(addr, self->allowed_addr)) return TRUE;
  for (guint i = 0; self->ice_addresses && i < self->ice_addresses->len; i++) {
    if (g_inet_address_equal(addr, g_ptr_array_index(self->ice_addresses, i))) return TRUE;
  }
  return FALSE;
}

/* A STUN message while ICE is on: answered on the socket when it is a valid Binding request from a known address. */
static void handle_stun(B2bIngress *self, GstBuffer *buf, const guint8 *data, gsize size) {
  GstNetAddressMeta *meta = gst_buffer_get_net_address_meta(buf);
  if (!meta || !G_IS_INET_SOCKET_ADDRESS(meta->addr)) { GST_OBJECT_LOCK(self); self->stun_refused++; GST_OBJECT_UNLOCK(self); return; }
  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(meta->addr);
  GInetAddress *from = g_inet_socket_address_get_address(isa);
  guint16 port = g_inet_socket_address_get_port(isa);
  GST_OBJECT_LOCK(self);
  gboolean known = ice_address_known(self, from);
  gchar *ufrag = g_strdup(self->ice_ufrag), *pwd = g_strdup(self->ice_pwd), *remote = g_strdup(self->ice_remote_ufrag);
  GSocket *sock = self->socket ? g_object_ref(self->socket) : NULL;
  GST_OBJECT_UNLOCK(self);
  guint8 response[B2B_STUN_MAX_RESPONSE];
  gsize response_len = 0;
  gboolean use_candidate = FALSE;
  B2bStunResult r = B2B_STUN_BAD_USERNAME;
  if (known && sock) {
    r = b2b_stun_answer(data, size, ufrag, pwd, remote, g_inet_address_to_bytes(from), g_inet_address_get_native_size(from), port,
        response, &response_len, &use_candidate);
  }
  gboolean sent = FALSE;
  if (r == B2B_STUN_ANSWER) {
    GError *err = NULL;
    sent = g_socket_send_to(sock, meta->addr, (const gchar *)response, response_len, NULL, &err) == (gssize)response_len;
    if (!sent) GST_WARNING_OBJECT(self, "STUN response not sent: %s", err ? err->message : "short write");
    g_clear_error(&err);
  } else {
    GST_DEBUG_OBJECT(self, "STUN message dropped (%s, result %d)", known ? "known source" : "unknown source", r);
  }
  GST_OBJECT_LOCK(self);
  if (sent) {
    self->stun_answered++;
    if (use_candidate) {
      self->stun_nominations++;
      if (!self->nominated_addr || !g_inet_address_equal(self->nominated_addr, from) || self->nominated_port != port) {
        g_clear_object(&self->nominated_addr);
        self->nominated_addr = g_object_ref(from);
        self->nominated_port = port;
      }
    }
  } else if (r == B2B_STUN_NOT_REQUEST) {
    self->other++; /* a Binding indication (keepalive, RFC 8445 section 11) or a stray response: nothing to answer */
  } else {
    self->stun_refused++;
  }
  GST_OBJECT_UNLOCK(self);
  g_free(ufrag);
  g_free(pwd);
  g_free(remote);
  if (sock) g_object_unref(sock);
}

static GstFlowReturn b2b_ingress_chain(GstPad *pad, GstObject *parent, GstBuffer *buf) {
  B2bIngress *self = B2B_INGRESS(parent);
  GstMapInfo map;
  (void)pad;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) { gst_buffer_unref(buf); return GST_FLOW_OK; }
  if (b2b_stun_is_stun(map.data, map.size)) {
    GST_OBJECT_LOCK(self);
    gboolean ice = self->ice_ufrag != NULL && self->ice_pwd != NULL;
    GST_OBJECT_UNLOCK(self);
    if (ice) {
      handle_stun(self, buf, map.data, map.size);
      gst_buffer_unmap(buf, &map);
      gst_buffer_unref(buf);
      return GST_FLOW_OK;
    }
  }
  PacketKind kind = classify(map.data, map.size);
  /* Outside the object lock (pad locks come after the element's). */
  gboolean expected = kind == PKT_DTLS ? gst_pad_is_linked(self->dtls_src) : kind == PKT_ZRTP ? gst_pad_is_linked(self->zrtp_src) : TRUE;
  guint ssrc = map.size >= 12 ? GST_READ_UINT32_BE(map.data + (kind == PKT_RTCP ? 4 : 8)) : 0;
  guint16 seq = kind == PKT_RTP ? GST_READ_UINT16_BE(map.data + 2) : 0;
  gsize size = map.size;
  gst_buffer_unmap(buf, &map);

  GST_OBJECT_LOCK(self);
  guint16 port = 0;
  SourceVerdict verdict = source_check(self, buf, kind, expected, ssrc, &port);
  if (verdict == SRC_WRONG_ADDRESS || verdict == SRC_WRONG_PORT) {
    self->rejected++;
    if (verdict == SRC_WRONG_ADDRESS) self->rejected_wrong_address++;
    else self->rejected_wrong_port++;
  } else if (verdict == SRC_ACCEPT) {
    count_accepted(self, kind, ssrc, seq, size);
  }
  GST_OBJECT_UNLOCK(self);

  if (verdict == SRC_WRONG_ADDRESS || verdict == SRC_WRONG_PORT || kind == PKT_OTHER) { gst_buffer_unref(buf); return GST_FLOW_OK; }
  if (verdict == SRC_CANDIDATE) { /* counted when (if) it authenticates */
    buf = gst_buffer_make_writable(buf);
    B2bLatchMeta tag = { .ingress = GST_ELEMENT(self), .port = port, .rtcp = kind == PKT_RTCP, .ssrc = ssrc, .seq = seq, .size = (guint)size };
    b2b_latch_meta_add(buf, &tag);
  }
  GstPad *out = kind == PKT_RTP ? self->rtp_src : kind == PKT_RTCP ? self->rtcp_src : kind == PKT_DTLS ? self->dtls_src : self->zrtp_src;
  GstFlowReturn ret = gst_pad_push(out, buf);
  /* An unlinked/flushing branch must not stop the other one. */
  return ret == GST_FLOW_NOT_LINKED ? GST_FLOW_OK : ret;
}

/* Fixed caps of a src pad, from its template (the event takes its own reference). */
static void push_caps(GstPad *pad, GstStaticPadTemplate *tpl) {
  GstCaps *caps = gst_static_pad_template_get_caps(tpl);
  gst_pad_push_event(pad, gst_event_new_caps(caps));
  gst_caps_unref(caps);
}

static gboolean b2b_ingress_sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  B2bIngress *self = B2B_INGRESS(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: /* we set our own caps per output */
      gst_event_unref(event);
      return TRUE;
    case GST_EVENT_STREAM_START: {
      gboolean ok = gst_pad_event_default(pad, parent, event);
      push_caps(self->rtp_src, &rtp_tpl);
      push_caps(self->rtcp_src, &rtcp_tpl);
      push_caps(self->dtls_src, &dtls_tpl);
      push_caps(self->zrtp_src, &zrtp_tpl);
      return ok;
    }
    default:
      return gst_pad_event_default(pad, parent, event);
  }
}

static void b2b_ingress_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bIngress *self = B2B_INGRESS(object);
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_REMOTE_ADDRESS: {
      const gchar *s = g_value_get_string(value);
      GInetAddress *addr = (s && *s) ? g_inet_address_new_from_string(s) : NULL;
      if (s && *s && !addr) GST_WARNING_OBJECT(self, "remote-address \"%s\" is not an IP address: accepting nothing", s);
      if (!(addr && self->allowed_addr && g_inet_address_equal(addr, self->allowed_addr))) latch_reset(self);
      g_clear_object(&self->allowed_addr);
      self->allowed_addr = addr;
      break;
    }
    case PROP_REMOTE_PORT:
      if (self->remote_port != g_value_get_int(value)) latch_reset(self);
      self->remote_port = g_value_get_int(value);
      break;
    case PROP_LATCH: self->latch = g_value_get_boolean(value); latch_reset(self); break;
    case PROP_LATCH_AUTHENTICATED:
      if (self->latch_authenticated != g_value_get_boolean(value)) self->auth_latched = FALSE;
      self->latch_authenticated = g_value_get_boolean(value);
      break;
    case PROP_SOCKET: {
      GSocket *sock = g_value_dup_object(value);
      if (self->socket) g_object_unref(self->socket);
      self->socket = sock;
      break;
    }
    case PROP_ICE_UFRAG: case PROP_ICE_PWD: case PROP_ICE_REMOTE_UFRAG: {
      gchar **field = id == PROP_ICE_UFRAG ? &self->ice_ufrag : id == PROP_ICE_PWD ? &self->ice_pwd : &self->ice_remote_ufrag;
      const gchar *v = g_value_get_string(value);
      gchar *next = v && *v ? g_strdup(v) : NULL;
      if (g_strcmp0(next, *field) != 0) { g_clear_object(&self->nominated_addr); self->nominated_port = 0; } /* new credentials: ICE starts over */
      g_free(*field);
      *field = next;
      break;
    }
    case PROP_ICE_ADDRESSES: {
      const gchar *v = g_value_get_string(value);
      g_free(self->ice_addresses_text);
      self->ice_addresses_text = g_strdup(v ? v : "");
      g_ptr_array_set_size(self->ice_addresses, 0);
      gchar **words = g_strsplit_set(self->ice_addresses_text, " ,", -1);
      for (gchar **w = words; *w; w++) {
        if (!**w) continue;
        GInetAddress *a = g_inet_address_new_from_string(*w);
        if (a) g_ptr_array_add(self->ice_addresses, a);
        else GST_WARNING_OBJECT(self, "ice-addresses: \"%s\" is not an IP address (ignored)", *w);
      }
      g_strfreev(words);
      if (self->nominated_addr && !ice_address_known(self, self->nominated_addr)) { g_clear_object(&self->nominated_addr); self->nominated_port = 0; }
      break;
    }
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  GST_OBJECT_UNLOCK(self);
}

static void b2b_ingress_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bIngress *self = B2B_INGRESS(object);
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_REMOTE_ADDRESS:
      g_value_take_string(value, self->allowed_addr ? g_inet_address_to_string(self->allowed_addr) : NULL);
      break;
    case PROP_REMOTE_PORT: g_value_set_int(value, self->remote_port); break;
    case PROP_LATCH: g_value_set_boolean(value, self->latch); break;
    case PROP_LATCH_AUTHENTICATED: g_value_set_boolean(value, self->latch_authenticated); break;
    case PROP_LATCHED_PORT: g_value_set_int(value, self->latched_port); break;
    case PROP_LAST_RTP_TIME: g_value_set_int64(value, self->last_rtp_time_us); break;
    case PROP_LAST_RTCP_TIME: g_value_set_int64(value, self->last_rtcp_time_us); break;
    case PROP_LAST_SSRC: g_value_set_uint(value, self->last_ssrc); break;
    case PROP_PACKETS_LOST: g_value_set_uint64(value, self->lost_before + seq_lost(self)); break;
    case PROP_SOCKET: g_value_set_object(value, self->socket); break;
    case PROP_ICE_UFRAG: g_value_set_string(value, self->ice_ufrag); break;
    case PROP_ICE_PWD: g_value_set_string(value, self->ice_pwd); break;
    case PROP_ICE_REMOTE_UFRAG: g_value_set_string(value, self->ice_remote_ufrag); break;
    case PROP_ICE_ADDRESSES: g_value_set_string(value, self->ice_addresses_text); break;
    case PROP_NOMINATED_ADDRESS: g_value_take_string(value, self->nominated_addr ? g_inet_address_to_string(self->nominated_addr) : NULL); break;
    case PROP_NOMINATED_PORT: g_value_set_int(value, self->nominated_port); break;
    default: if (!b2b_get_counter(self, counters, G_N_ELEMENTS(counters), id, value)) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  GST_OBJECT_UNLOCK(self);
}

static void b2b_ingress_finalize(GObject *object) {
  B2bIngress *self = B2B_INGRESS(object);
  g_clear_object(&self->allowed_addr);
  g_clear_object(&self->nominated_addr);
  g_clear_object(&self->socket);
  g_free(self->ice_ufrag);
  g_free(self->ice_pwd);
  g_free(self->ice_remote_ufrag);
  g_free(self->ice_addresses_text);
  g_ptr_array_unref(self->ice_addresses);
  G_OBJECT_CLASS(b2b_ingress_parent_class)->finalize(object);
}

static void b2b_ingress_class_init(B2bIngressClass *klass) {
  static GstStaticPadTemplate *const templates[] = { &sink_tpl, &rtp_tpl, &rtcp_tpl, &dtls_tpl, &zrtp_tpl, NULL };
  b2b_element_class_setup(klass, &(B2bElementClassInfo){ b2b_ingress_set_property, b2b_ingress_get_property, b2b_ingress_finalize, templates,
      "B2BUA leg ingress", "Filter/Network/RTP", "Source-address filter with latching, RTP/RTCP/DTLS/ZRTP split and counters for one call leg" });
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  const GParamFlags rw = B2B_PARAM_RW;
  g_object_class_install_property(oc, PROP_REMOTE_ADDRESS, g_param_spec_string("remote-address", "Remote address",
      "Only packets from this IP address are accepted (empty = none)", NULL, rw));
  g_object_class_install_property(oc, PROP_REMOTE_PORT, g_param_spec_int("remote-port", "Remote port",
      "Port from the SDP; with latch=false only this port is accepted", 0, 65535, 0, rw));
  g_object_class_install_property(oc, PROP_LATCH, g_param_spec_boolean("latch", "Latch",
      "Latch one source port of remote-address (NAT) by the rule of latch-authenticated; false = remote-port only", TRUE, rw));
  g_object_class_install_property(oc, PROP_LATCH_AUTHENTICATED, g_param_spec_boolean("latch-authenticated", "Latch on authentication",
      "SRTP: RTP/RTCP from an unlatched port goes to the SRTP element tagged, and only an authenticated one latches its port", FALSE, rw));
  g_object_class_install_property(oc, PROP_LATCHED_PORT, g_param_spec_int("latched-port", "Latched port",
      "Source port latched (0 = none yet); where the worker sends to", 0, 65535, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  g_object_class_install_property(oc, PROP_LAST_RTP_TIME, g_param_spec_int64("last-rtp-time", "Last RTP time",
      "Wall clock (us since epoch) of the last accepted RTP packet, 0 = none", 0, G_MAXINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(oc, PROP_LAST_RTCP_TIME, g_param_spec_int64("last-rtcp-time", "Last RTCP time",
      "Wall clock (us since epoch) of the last accepted RTCP packet, 0 = none", 0, G_MAXINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(oc, PROP_LAST_SSRC, g_param_spec_uint("last-ssrc", "Last SSRC",
      "SSRC of the last accepted RTP packet", 0, G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(oc, PROP_PACKETS_LOST, g_param_spec_uint64("packets-lost", "Packets lost",
      "RTP packets missing from the accepted senders' sequence numbers (RFC 3550 A.3, summed over SSRCs)", 0, G_MAXUINT64, 0, B2B_PARAM_RO));
  g_object_class_install_property(oc, PROP_SOCKET, g_param_spec_object("socket", "Socket",
      "The leg's UDP socket (shared with b2bsocketsrc / b2bsocketsink): ICE answers leave through it", G_TYPE_SOCKET, rw));
  g_object_class_install_property(oc, PROP_ICE_UFRAG, g_param_spec_string("ice-ufrag", "ICE ufrag",
      "Our a=ice-ufrag on this leg; with ice-pwd, turns ICE-lite on (empty = off: STUN counted as other)", NULL, rw));
  g_object_class_install_property(oc, PROP_ICE_PWD, g_param_spec_string("ice-pwd", "ICE password",
      "Our a=ice-pwd: the MESSAGE-INTEGRITY key of the peer's checks and of our answers", NULL, rw));
  g_object_class_install_property(oc, PROP_ICE_REMOTE_UFRAG, g_param_spec_string("ice-remote-ufrag", "Peer's ICE ufrag",
      "The peer's a=ice-ufrag: the second half of the USERNAME its checks must carry (empty = any)", NULL, rw));
  g_object_class_install_property(oc, PROP_ICE_ADDRESSES, g_param_spec_string("ice-addresses", "ICE source addresses",
      "Whitespace-separated IP addresses checks may come from (the peer's SDP candidates and c= address; remote-address is always one)", NULL, rw));
  g_object_class_install_property(oc, PROP_NOMINATED_ADDRESS, g_param_spec_string("nominated-address", "Nominated address",
      "Source address of the last answered check with USE-CANDIDATE (empty = none): the only address then accepted", NULL, B2B_PARAM_RO));
  g_object_class_install_property(oc, PROP_NOMINATED_PORT, g_param_spec_int("nominated-port", "Nominated port",
      "Source port of the nominated pair (0 = none)", 0, 65535, 0, B2B_PARAM_RO));
  GST_DEBUG_CATEGORY_INIT(b2b_ingress_debug, "b2bingress", 0, "B2BUA leg ingress");
}

static void b2b_ingress_init(B2bIngress *self) {
  self->latch = TRUE;
  self->ice_addresses = g_ptr_array_new_with_free_func(g_object_unref);
  GstElement *el = GST_ELEMENT(self);
  self->sinkpad = b2b_add_pad(el, &sink_tpl, GST_DEBUG_FUNCPTR(b2b_ingress_chain), GST_DEBUG_FUNCPTR(b2b_ingress_sink_event), B2B_CAPS_DEFAULT);
  self->rtp_src = b2b_add_pad(el, &rtp_tpl, NULL, NULL, B2B_CAPS_FIXED);
  self->rtcp_src = b2b_add_pad(el, &rtcp_tpl, NULL, NULL, B2B_CAPS_FIXED);
  self->dtls_src = b2b_add_pad(el, &dtls_tpl, NULL, NULL, B2B_CAPS_FIXED);
  self->zrtp_src = b2b_add_pad(el, &zrtp_tpl, NULL, NULL, B2B_CAPS_FIXED);
}
