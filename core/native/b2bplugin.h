/* b2bua-server GStreamer plugin: elements the media workers need and GStreamer lacks.
 * Also the GObject plumbing the elements share (counters, pads, class set-up): see README.md, "Adding an element". */
#ifndef B2B_PLUGIN_H
#define B2B_PLUGIN_H
#include <gst/gst.h>
#include <gio/gio.h>

G_BEGIN_DECLS
#define B2B_TYPE_INGRESS (b2b_ingress_get_type())
G_DECLARE_FINAL_TYPE(B2bIngress, b2b_ingress, B2B, INGRESS, GstElement)
#define B2B_TYPE_SRTP (b2b_srtp_get_type())
G_DECLARE_FINAL_TYPE(B2bSrtp, b2b_srtp, B2B, SRTP, GstElement)
#define B2B_TYPE_DTLS (b2b_dtls_get_type())
G_DECLARE_FINAL_TYPE(B2bDtls, b2b_dtls, B2B, DTLS, GstElement)
#define B2B_TYPE_ZRTP (b2b_zrtp_get_type())
G_DECLARE_FINAL_TYPE(B2bZrtp, b2b_zrtp, B2B, ZRTP, GstElement)
#define B2B_TYPE_DTMF (b2b_dtmf_get_type())
G_DECLARE_FINAL_TYPE(B2bDtmf, b2b_dtmf, B2B, DTMF, GstElement)
#define B2B_TYPE_SOCKET_SRC (b2b_socket_src_get_type())
G_DECLARE_FINAL_TYPE(B2bSocketSrc, b2b_socket_src, B2B, SOCKET_SRC, GstElement)
#define B2B_TYPE_SOCKET_SINK (b2b_socket_sink_get_type())
G_DECLARE_FINAL_TYPE(B2bSocketSink, b2b_socket_sink, B2B, SOCKET_SINK, GstElement)

/* Space-separated RFC 4568 suite names this libsrtp build can do (b2bsrtp.c; free with g_free). */
gchar *b2b_srtp_supported_suites(void);
/* libsrtp's AES-ICM and HMAC-SHA1 by OpenSSL (b2bsrtpcrypto.c): TRUE when libsrtp took every replacement. */
gboolean b2b_srtp_crypto_use_openssl(void);
/* "openssl" once every replacement was taken, else "libsrtp". */
const gchar *b2b_srtp_crypto_backend(void);

/* Settable while PLAYING (re-INVITEs change them mid-call) / read-only. */
#define B2B_PARAM_RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)
#define B2B_PARAM_RO (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

/* An always-present pad (its name is the template's) with caps given as a string ("ANY", "application/x-rtp"). */
#define B2B_PAD_TEMPLATE(name, direction, caps) GST_STATIC_PAD_TEMPLATE(name, direction, GST_PAD_ALWAYS, GST_STATIC_CAPS(caps))

/* A read-only guint64 counter read by polling from the worker (no signal towards JavaScript). */
typedef struct {
  guint id;
  const gchar *name;
  const gchar *blurb;
  gsize offset; /* G_STRUCT_OFFSET of the guint64 in the instance struct */
} B2bCounter;

/* One row of an element's counter table: B2B_COUNTER(B2bSrtp, PROP_PACKETS, "packets", packets, "Packets passed"). */
#define B2B_COUNTER(type, id, name, field, blurb) { id, name, blurb, G_STRUCT_OFFSET(type, field) }

static inline void b2b_install_counters(GObjectClass *oc, const B2bCounter *counters, gsize n) {
  for (gsize i = 0; i < n; i++) {
    g_object_class_install_property(oc, counters[i].id, g_param_spec_uint64(counters[i].name, counters[i].name, counters[i].blurb,
        0, G_MAXUINT64, 0, B2B_PARAM_RO));
  }
}

/* get_property for counters: TRUE when `id` is one of them (value set). The caller holds the element's lock. */
static inline gboolean b2b_get_counter(gpointer self, const B2bCounter *counters, gsize n, guint id, GValue *value) {
  for (gsize i = 0; i < n; i++) {
    if (counters[i].id == id) { g_value_set_uint64(value, G_STRUCT_MEMBER(guint64, self, counters[i].offset)); return TRUE; }
  }
  return FALSE;
}

typedef enum { B2B_CAPS_DEFAULT, B2B_CAPS_PROXY, B2B_CAPS_FIXED } B2bCapsMode;

/* Creates the pad of `tpl` (named as the template), sets its functions (NULL = default) and caps mode, adds it. */
static inline GstPad *b2b_add_pad(GstElement *element, GstStaticPadTemplate *tpl, GstPadChainFunction chain,
    GstPadEventFunction event, B2bCapsMode caps) {
  GstPad *pad = gst_pad_new_from_static_template(tpl, tpl->name_template);
  if (chain) gst_pad_set_chain_function(pad, chain);
  if (event) gst_pad_set_event_function(pad, event);
  if (caps == B2B_CAPS_PROXY) GST_PAD_SET_PROXY_CAPS(pad);
  else if (caps == B2B_CAPS_FIXED) gst_pad_use_fixed_caps(pad);
  gst_element_add_pad(element, pad);
  return pad;
}

typedef struct {
  GObjectSetPropertyFunc set_property;
  GObjectGetPropertyFunc get_property;
  GObjectFinalizeFunc finalize;
  GstStaticPadTemplate *const *templates; /* NULL-terminated */
  const gchar *longname, *classification, *description;
} B2bElementClassInfo;

/* The class_init part every element has: property plumbing, finalize, pad templates, metadata. */
static inline void b2b_element_class_setup(gpointer klass, const B2bElementClassInfo *info) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  oc->set_property = info->set_property;
  oc->get_property = info->get_property;
  oc->finalize = info->finalize;
  for (GstStaticPadTemplate *const *t = info->templates; *t; t++) gst_element_class_add_static_pad_template(ec, *t);
  gst_element_class_set_static_metadata(ec, info->longname, info->classification, info->description, "b2bua-server");
}
G_END_DECLS
#endif
