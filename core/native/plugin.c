/* Registers the b2bua-server elements; loaded through GST_PLUGIN_PATH. */
#include "b2bplugin.h"
#include <srtp2/srtp.h>

#ifndef PACKAGE
#define PACKAGE "b2bua-server"
#endif

static gboolean plugin_init(GstPlugin *plugin) {
  /* Idempotent in libsrtp2; GStreamer's srtp plugin may have called it too. */
  if (srtp_init() != srtp_err_status_ok) return FALSE;
  b2b_srtp_crypto_use_openssl(); /* a refusal is logged; libsrtp's own crypto then stays */
  return gst_element_register(plugin, "b2bingress", GST_RANK_NONE, B2B_TYPE_INGRESS) &&
         gst_element_register(plugin, "b2bsrtp", GST_RANK_NONE, B2B_TYPE_SRTP) &&
         gst_element_register(plugin, "b2bdtls", GST_RANK_NONE, B2B_TYPE_DTLS) &&
         gst_element_register(plugin, "b2bzrtp", GST_RANK_NONE, B2B_TYPE_ZRTP) &&
         gst_element_register(plugin, "b2bdtmf", GST_RANK_NONE, B2B_TYPE_DTMF) &&
         gst_element_register(plugin, "b2bsocketsrc", GST_RANK_NONE, B2B_TYPE_SOCKET_SRC) &&
         gst_element_register(plugin, "b2bsocketsink", GST_RANK_NONE, B2B_TYPE_SOCKET_SINK);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, b2bua, "b2bua-server media elements", plugin_init,
                  "0.1.0", "unknown", /* the repository licence (AGPL-3.0-or-later) applies */ "b2bua-server", "https://github.com/")
