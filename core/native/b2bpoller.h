/* One I/O thread per process (per media worker) reading every call's sockets: an epoll set, level-triggered.
 * b2bsocketsrc registers its socket while PLAYING; the poller calls it back when the socket is readable, and the
 * callback reads (recvmmsg) and pushes into its pipeline on the poller thread. No thread per socket, no wake-up per
 * packet under load: one epoll_wait returns every socket that has data. */
#ifndef B2B_POLLER_H
#define B2B_POLLER_H
#include <glib.h>

G_BEGIN_DECLS
/* Called on the poller thread with the poller's lock held: must not call b2b_poller_add / b2b_poller_remove. */
typedef void (*B2bPollerReady)(gpointer owner);

/* Watches `fd` for input; `owner` (a GObject) is referenced until b2b_poller_remove. FALSE if epoll refused it. */
gboolean b2b_poller_add(int fd, gpointer owner, B2bPollerReady ready);
/* Stops watching: when it returns, `ready` is not running for `owner` and will not run again. */
void b2b_poller_remove(int fd, gpointer owner);
/* Sockets watched now (tests, leak checks). */
guint b2b_poller_count(void);
G_END_DECLS
#endif
